import { sql, type Kysely } from 'kysely'

// Frozen in time: what the CRL is built from, as of this date.
export async function up(db: Kysely<any>): Promise<void> {
  // Moved by every status change in its transaction: the published CRL is current when it was
  // built at this version (one row read, where counting changed certificates read them all).
  await db.schema
    .createTable('certificate_status_version')
    .addColumn('id', 'smallint', (c) => c.primaryKey().check(sql`id = 1`))
    .addColumn('version', 'bigint', (c) => c.notNull())
    .execute()
  await sql`insert into certificate_status_version (id, version) values (1, 0)`.execute(db)
  // The CRL reads an issuer's revoked and held certificates page by page, in serial order.
  await db.schema.createIndex('certificate_crl_idx').on('certificate').columns(['issuer_id', 'serial'])
    .where(sql.ref('status'), '!=', 'good').execute()
}
