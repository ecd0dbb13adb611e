import type { Kysely } from 'kysely'

// Frozen in time: one table for every phone code (enrollment, the portal's step-up), as of this
// date. The codes pending in the enrollment and account_session rows are dropped with their
// columns: a code lives three minutes, and the subscriber asks for a new one.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('phone_code')
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('owner', 'text', (c) => c.notNull())
    .addColumn('phone_e164', 'text', (c) => c.notNull())
    .addColumn('hash', 'text')
    .addColumn('sent_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('verified_at', 'timestamptz')
    .addPrimaryKeyConstraint('phone_code_pkey', ['purpose', 'owner'])
    .execute()
  await db.schema.createIndex('phone_code_expires_idx').on('phone_code').column('expires_at').execute()
  for (const table of ['enrollment', 'account_session']) {
    await db.schema.alterTable(table).dropColumn('otp_hash').dropColumn('otp_expires_at').dropColumn('otp_attempts').dropColumn('otp_sent_at').execute()
  }
}
