// The certificate status version: one counter that every status change moves in its own
// transaction. What is derived from the statuses (a CRL, pre-signed OCSP answers) records the
// version it was built under and is built again once the version has moved.
import { sql } from 'kysely'
import type { Database, DatabaseTransaction } from '../db/database.ts'

/**
 * Moves the version in the transaction of a status change: a CRL built before it commits records
 * an older version and is built again (crl.ts); other instances drop their pre-signed OCSP answers (ocsp.ts).
 */
export async function statusChanged(trx: DatabaseTransaction): Promise<void> {
  await sql`update certificate_status_version set version = version + 1 where id = 1`.execute(trx) // primary key
}

/** The version now. */
export async function statusVersion(db: Database): Promise<string> {
  const row = await db.selectFrom('certificate_status_version').select('version').where('id', '=', 1).executeTakeFirst() // primary key
  return `v${row?.version ?? 0}`
}
