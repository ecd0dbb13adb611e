import { sql, type Kysely } from 'kysely'

// The operator looks subscribers up by phone number (the admin API's GET /subscribers?phone=).
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index if not exists subscriber_phone_idx on subscriber (phone_e164)`.execute(db)
}
