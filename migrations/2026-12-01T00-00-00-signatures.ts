import { sql, type Kysely } from 'kysely'

// Frozen in time: the signature archive as of this date.
export async function up(db: Kysely<any>): Promise<void> {
  // Every signature a subscriber made for an institution, with what they read, the signed bytes,
  // the certificate's OCSP status at that moment and PostCert's receipt: evidence kept for
  // re-verification. Append-only, enforced by the database.
  await db.schema
    .createTable('signature')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('subscriber_id', 'text', (c) => c.notNull().references('subscriber.id'))
    .addColumn('certificate_serial', 'text', (c) => c.notNull().references('certificate.serial'))
    .addColumn('holder', 'text', (c) => c.notNull())
    // The authorization detail as the institution sent it (JSON, with the documents' texts).
    .addColumn('request', 'text', (c) => c.notNull())
    // The signed bytes: canonical JSON of the signing payload.
    .addColumn('payload', 'text', (c) => c.notNull())
    .addColumn('payload_sha256', 'text', (c) => c.notNull())
    // The subscriber's signature (JSON: its format and values).
    .addColumn('signature', 'text', (c) => c.notNull())
    .addColumn('ocsp', 'bytea', (c) => c.notNull())
    .addColumn('receipt', 'text', (c) => c.notNull())
    .addColumn('signed_at', 'timestamptz', (c) => c.notNull())
    .execute()
  // The public key of every OIDC key that signed a receipt. Signing keys are deleted once what they
  // signed for OpenID Connect has expired; receipts must stay verifiable for years.
  await db.schema
    .createTable('receipt_key')
    .addColumn('kid', 'text', (c) => c.primaryKey())
    .addColumn('public_jwk', 'text', (c) => c.notNull())
    .addColumn('first_used_at', 'timestamptz', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('signature_client_idx').on('signature').columns(['client_id', 'signed_at']).execute()
  await db.schema.createIndex('signature_subscriber_idx').on('signature').columns(['subscriber_id', 'signed_at']).execute()
  await sql`
    create function signature_append_only() returns trigger language plpgsql as $$
    begin
      raise exception 'signature is append-only';
    end $$
  `.execute(db)
  await sql`
    create trigger signature_append_only before update or delete on signature
    for each row execute function signature_append_only()
  `.execute(db)
}
