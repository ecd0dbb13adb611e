import type { Kysely } from 'kysely'

// Frozen in time: one table for every phone code (enrollment, the portal's step-up), as of this
// date. The otp columns of enrollment and account_session stay, unused from now on: instances of
// the version before still write them while a deployment rolls (a code one of those sent is not
// found by the new ones: the subscriber asks for another). A later migration drops them.
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
}
