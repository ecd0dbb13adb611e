// The certificate status version: one counter that every status change moves in its own
// transaction. What is derived from the statuses (a CRL, pre-signed OCSP answers) records the
// version it was built under and is built again once the version has moved.
import { sql } from 'kysely'
import type { Database, DatabaseTransaction } from '../db/database.ts'
import { REPLICA_RECHECK_MS, REPLICA_RETRY_MS } from './constants.ts'

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

/** The version's number ('v12' -> 12). */
const versionNumber = (version: string) => Number(version.slice(1))

/**
 * Where certificate statuses are read from: a streaming replica of the database when one is
 * configured (DATABASE_READ_URL) and it has replayed the status version the caller knows from the
 * database itself, otherwise the database. Every status change moves the version in its own
 * transaction, and a replica replays transactions in commit order: a replica at version v or later
 * shows every status change up to v. A replica that is behind, or that fails, is passed over for
 * the database (a failed one for REPLICA_RETRY_MS, reported once); its reads never make an answer fail.
 */
export class StatusSource {
  readonly #primary: Database
  readonly #replica: Database | undefined
  readonly #onReplicaError: (err: unknown) => void
  /** The highest version the replica was seen at (it only moves forward). */
  #replicaAt = -1
  /** When the replica's version was last read: behind, it is read again at most every REPLICA_RECHECK_MS. */
  #replicaCheckedAt = -Infinity
  /** Until when a replica that failed is not asked. */
  #replicaDownUntil = -Infinity

  constructor(primary: Database, replica?: Database, options: { onReplicaError?: (err: unknown) => void } = {}) {
    this.#primary = primary
    this.#replica = replica
    this.#onReplicaError = options.onReplicaError ?? (() => {})
  }

  /** Whether a replica is configured (callers then learn the version from the database first). */
  get replicated(): boolean {
    return this.#replica !== undefined
  }

  /**
   * Runs `query` on the replica when it has replayed `version` (read from the database), else on
   * the database. `again` (a row the replica may not have yet, such as a certificate just issued)
   * sends the query to the database as well.
   */
  async read<T>(version: string | undefined, query: (db: Database) => Promise<T>, again: (result: T) => boolean = () => false): Promise<T> {
    if (this.#replica && version !== undefined && performance.now() >= this.#replicaDownUntil && await this.#caughtUp(versionNumber(version))) {
      try {
        const result = await query(this.#replica)
        if (!again(result)) return result
      } catch (err) {
        this.#failed(err)
      }
    }
    return await query(this.#primary)
  }

  async #caughtUp(version: number): Promise<boolean> {
    if (this.#replicaAt >= version) return true
    // Behind a moment ago: the database answers meanwhile, without a read of the replica per request.
    if (performance.now() - this.#replicaCheckedAt < REPLICA_RECHECK_MS) return false
    this.#replicaCheckedAt = performance.now()
    try {
      this.#replicaAt = Math.max(this.#replicaAt, versionNumber(await statusVersion(this.#replica!)))
    } catch (err) {
      this.#failed(err)
      return false
    }
    return this.#replicaAt >= version
  }

  #failed(err: unknown): void {
    if (performance.now() >= this.#replicaDownUntil) this.#onReplicaError(err)
    this.#replicaDownUntil = performance.now() + REPLICA_RETRY_MS
  }
}
