import { sql, type Kysely } from 'kysely'

// Frozen in time: partitioned CRLs, as of this date.
export async function up(db: Kysely<any>): Promise<void> {
  // The CRL partition a certificate names in its distribution point (null: the complete CRL,
  // as every certificate issued before), and the status version its last status change moved
  // the counter to (null: never changed since issuance, or changed before this migration).
  await db.schema.alterTable('certificate').addColumn('crl_partition', 'smallint').execute()
  await db.schema.alterTable('certificate').addColumn('status_version', 'bigint').execute()
  // A partition's CRL reads its revoked and held certificates page by page, in serial order...
  await db.schema.createIndex('certificate_crl_partition_idx').on('certificate').columns(['issuer_id', 'crl_partition', 'serial'])
    .where(sql.ref('status'), '!=', 'good').execute()
  // ...and is current while no certificate of the partition changed status after it was built.
  await db.schema.createIndex('certificate_partition_version_idx').on('certificate').columns(['issuer_id', 'crl_partition', 'status_version'])
    .where(sql.ref('status_version'), 'is not', null).execute()
  // One published CRL per issuer and scope: 'complete', or a partition's ('p0', 'p1', ...).
  await db.schema.alterTable('crl').addColumn('scope', 'text', (c) => c.notNull().defaultTo('complete')).execute()
  await sql`alter table crl drop constraint crl_pkey`.execute(db)
  await sql`alter table crl add constraint crl_pkey primary key (issuer_id, scope)`.execute(db)
}
