import { sql, type Kysely } from 'kysely'

// Frozen in time: the audit log and the signature archive refuse TRUNCATE too, as of this date.
export async function up(db: Kysely<any>): Promise<void> {
  // The row triggers refuse UPDATE and DELETE; TRUNCATE fires only statement triggers.
  await sql`create trigger audit_event_no_truncate before truncate on audit_event for each statement execute function audit_event_append_only()`.execute(db)
  await sql`create trigger signature_no_truncate before truncate on signature for each statement execute function signature_append_only()`.execute(db)
}
