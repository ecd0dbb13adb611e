import { sql, type Kysely } from 'kysely'

// Frozen in time: the certificate authority's tables as of this date.
export async function up(db: Kysely<any>): Promise<void> {
  // Root and issuing CA certificates; private keys sealed with the master key (absent for a root
  // the operator keeps offline).
  await db.schema
    .createTable('ca_certificate')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('root', 'issuing')`))
    .addColumn('der', 'bytea', (c) => c.notNull())
    .addColumn('sealed_key', 'text')
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('not_before', 'timestamptz', (c) => c.notNull())
    .addColumn('not_after', 'timestamptz', (c) => c.notNull())
    .addColumn('active', 'boolean', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await db.schema.createIndex('ca_certificate_one_active').on('ca_certificate').column('role').unique()
    .where(sql.ref('active'), '=', true).execute()

  // Subscriber certificates. Serial: lowercase hex without leading zeros.
  await db.schema
    .createTable('certificate')
    .addColumn('serial', 'text', (c) => c.primaryKey())
    .addColumn('subscriber_id', 'text', (c) => c.notNull())
    .addColumn('holder', 'text', (c) => c.notNull().check(sql`holder in ('passkey', 'file')`))
    .addColumn('issuer_id', 'text', (c) => c.notNull().references('ca_certificate.id'))
    .addColumn('der', 'bytea', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('spki_sha256', 'text', (c) => c.notNull())
    .addColumn('not_before', 'timestamptz', (c) => c.notNull())
    .addColumn('not_after', 'timestamptz', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('good', 'revoked', 'hold')`))
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('revocation_reason', 'text')
    .addColumn('replaced_by', 'text')
    // Set by revocation, suspension and resumption (not issuance): the CRL is rebuilt when it moves.
    .addColumn('status_changed_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await db.schema.createIndex('certificate_subscriber_idx').on('certificate').columns(['subscriber_id', 'not_after']).execute()
  await db.schema.createIndex('certificate_status_changed_idx').on('certificate').column('status_changed_at').execute()
  // The CRL lists revoked and held certificates of one issuer.
  await db.schema.createIndex('certificate_unrevoked_idx').on('certificate').columns(['issuer_id', 'status'])
    .where(sql.ref('status'), '!=', 'good').execute()

  // Single-use proof-of-possession challenges, stored as their SHA-256.
  await db.schema
    .createTable('ca_challenge')
    .addColumn('hash', 'text', (c) => c.primaryKey())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute()

  // The latest CRL of each issuer, reused until a status changes or it ages.
  await db.schema
    .createTable('crl')
    .addColumn('issuer_id', 'text', (c) => c.primaryKey().references('ca_certificate.id'))
    .addColumn('number', 'bigint', (c) => c.notNull())
    .addColumn('der', 'bytea', (c) => c.notNull())
    .addColumn('this_update', 'timestamptz', (c) => c.notNull())
    .addColumn('next_update', 'timestamptz', (c) => c.notNull())
    .addColumn('status_version', 'text', (c) => c.notNull())
    .execute()

  // Append-only audit log: the database itself refuses updates and deletes.
  await db.schema
    .createTable('audit_event')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('occurred_at', 'timestamptz', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('subscriber_id', 'text')
    .addColumn('certificate_serial', 'text')
    .addColumn('data', 'text', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('audit_event_subscriber_idx').on('audit_event').columns(['subscriber_id', 'id']).execute()
  await sql`
    create function audit_event_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'audit_event is append-only';
    end $$
  `.execute(db)
  await sql`
    create trigger audit_event_append_only before update or delete on audit_event
    for each row execute function audit_event_append_only()
  `.execute(db)
}
