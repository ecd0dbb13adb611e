import type { Kysely } from 'kysely'

// Frozen in time: certificate login as of this date.
export async function up(db: Kysely<any>): Promise<void> {
  // Single-use login challenges, bound to the interaction they were made for; stored as SHA-256.
  await db.schema
    .createTable('login_challenge')
    .addColumn('hash', 'text', (c) => c.primaryKey())
    .addColumn('interaction_uid', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute()
  await db.schema.createIndex('login_challenge_expires_idx').on('login_challenge').column('expires_at').execute()

  // Registration at an institution (등록): the subscriber's consent, found again from any device.
  await db.schema
    .createTable('registration')
    .addColumn('subscriber_id', 'text', (c) => c.notNull().references('subscriber.id'))
    .addColumn('client_id', 'text', (c) => c.notNull())
    .addColumn('grant_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull())
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull())
    .addPrimaryKeyConstraint('registration_pkey', ['subscriber_id', 'client_id'])
    .execute()
}
