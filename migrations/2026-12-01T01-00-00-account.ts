import { sql, type Kysely } from 'kysely'

// Frozen in time: the subscriber portal (/account) and expiry reminders as of this date.
export async function up(db: Kysely<any>): Promise<void> {
  // A signed-in portal session: the cookie holds a random token, the row its SHA-256.
  await db.schema
    .createTable('account_session')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('subscriber_id', 'text', (c) => c.notNull().references('subscriber.id'))
    // The certificate the portal login was made with.
    .addColumn('certificate_serial', 'text', (c) => c.notNull().references('certificate.serial'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    // Renewal asks for a phone code on top of the certificate login: its state, per session.
    .addColumn('otp_hash', 'text')
    .addColumn('otp_sent_at', 'timestamptz')
    .addColumn('otp_expires_at', 'timestamptz')
    .addColumn('otp_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('phone_verified_at', 'timestamptz')
    .addColumn('webauthn_challenge', 'text')
    .execute()
  await db.schema.createIndex('account_session_expires_idx').on('account_session').column('expires_at').execute()
  // One row per certificate and reminder (30, 7, 1 days before expiry): claimed by exactly one
  // instance, marked sent once the gateway took the message.
  await db.schema
    .createTable('expiry_reminder')
    .addColumn('certificate_serial', 'text', (c) => c.notNull().references('certificate.serial'))
    .addColumn('days_before', 'integer', (c) => c.notNull())
    .addColumn('claimed_at', 'timestamptz', (c) => c.notNull())
    .addColumn('sent_at', 'timestamptz')
    .addPrimaryKeyConstraint('expiry_reminder_pk', ['certificate_serial', 'days_before'])
    .execute()
  // The portal finds a subscriber's sessions at an institution through the certificates they logged in with.
  await db.schema.createIndex('login_session_certificate_idx').on('login_session').column('certificate_serial').execute()
  // Expiry reminders look for good, unreplaced certificates by how soon they expire.
  await db.schema.createIndex('certificate_expiry_idx').on('certificate').columns(['not_after', 'serial'])
    .where(sql.ref('status'), '=', 'good').where(sql.ref('replaced_by'), 'is', null).execute()
  // The sandbox outbox keeps a message's idempotency key: a message sent again is not a second one.
  await db.schema.alterTable('sandbox_sms').addColumn('idempotency_key', 'text').execute()
  await db.schema.createIndex('sandbox_sms_idempotency_idx').on('sandbox_sms').column('idempotency_key').unique().execute()
}
