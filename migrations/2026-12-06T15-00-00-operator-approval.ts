import type { Kysely } from 'kysely'

// Frozen in time: operations of the admin API that take two operators (dual control), as of this
// date: one asks, another approves, then it runs.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('operator_approval')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('params', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('requested_by', 'text', (c) => c.notNull())
    .addColumn('requested_at', 'timestamptz', (c) => c.notNull())
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('decided_by', 'text')
    .addColumn('decided_at', 'timestamptz')
    .addColumn('result', 'text')
    .execute()
  await db.schema.createIndex('operator_approval_status_idx').on('operator_approval').columns(['status', 'requested_at']).execute()
}
