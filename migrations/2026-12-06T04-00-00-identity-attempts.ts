import type { Kysely } from 'kysely'

// Frozen in time: identity document attempts per enrollment, as of this date.
export async function up(db: Kysely<any>): Promise<void> {
  // At most a few identity checks per verified phone: then the enrollment starts again from the phone.
  await db.schema.alterTable('enrollment').addColumn('identity_attempts', 'integer', (c) => c.notNull().defaultTo(0)).execute()
}
