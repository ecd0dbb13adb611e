import { sql, type Kysely } from 'kysely'

// Frozen in time: subscribers and the enrollment journey as of this date.
export async function up(db: Kysely<any>): Promise<void> {
  // A subscriber is one person, found again by the connecting identifier (an HMAC of the
  // identity the provider vouches for). No document number is stored, only its last digits.
  await db.schema
    .createTable('subscriber')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('ci', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('birthdate', 'text', (c) => c.notNull())
    .addColumn('phone_e164', 'text', (c) => c.notNull())
    .addColumn('document_type', 'text', (c) => c.notNull())
    .addColumn('document_last_digits', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .execute()

  // One enrollment journey, bound to a browser cookie (stored as its SHA-256).
  await db.schema
    .createTable('enrollment')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('step', 'text', (c) => c.notNull().check(sql`step in ('phone', 'identity', 'holder', 'done')`))
    .addColumn('phone_e164', 'text')
    .addColumn('otp_hash', 'text')
    .addColumn('otp_expires_at', 'timestamptz')
    .addColumn('otp_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('otp_sent_at', 'timestamptz')
    .addColumn('phone_verified_at', 'timestamptz')
    .addColumn('subscriber_id', 'text', (c) => c.references('subscriber.id'))
    .addColumn('identity_verified_at', 'timestamptz')
    .addColumn('holder', 'text', (c) => c.check(sql`holder in ('passkey', 'file')`))
    .addColumn('certificate_serial', 'text', (c) => c.references('certificate.serial'))
    // The WebAuthn registration challenge of the passkey holder step.
    .addColumn('webauthn_challenge', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('enrollment_expires_idx').on('enrollment').column('expires_at').execute()

  // Passkeys: the WebAuthn credential behind a passkey-held certificate.
  await db.schema
    .createTable('webauthn_credential')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('subscriber_id', 'text', (c) => c.notNull().references('subscriber.id'))
    .addColumn('certificate_serial', 'text', (c) => c.notNull().references('certificate.serial'))
    .addColumn('public_key', 'bytea', (c) => c.notNull())
    .addColumn('counter', 'bigint', (c) => c.notNull())
    .addColumn('transports', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('webauthn_credential_subscriber_idx').on('webauthn_credential').column('subscriber_id').execute()

  // Fixed-window counters for rate limits (per phone number, per client address, ...).
  await db.schema
    .createTable('rate_limit')
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('window_start', 'timestamptz', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('rate_limit_pkey', ['key', 'window_start'])
    .execute()
  await db.schema.createIndex('rate_limit_window_idx').on('rate_limit').column('window_start').execute()

  // The sandbox SMS gateway's outbox (development and tests only).
  await db.schema
    .createTable('sandbox_sms')
    .addColumn('id', 'bigint', (c) => c.primaryKey().generatedAlwaysAsIdentity())
    .addColumn('to_e164', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('sent_at', 'timestamptz', (c) => c.notNull())
    .execute()
}
