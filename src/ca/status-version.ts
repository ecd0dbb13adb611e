// The certificate status version: one counter that every status change moves in its own
// transaction. What is derived from the statuses (a CRL, pre-signed OCSP answers) records the
// version it was built under and is built again once the version has moved.
import { sql } from 'kysely'
import type { Database, DatabaseTransaction } from '../db/database.ts'
import { REPLICA_RECHECK_MS, REPLICA_RETRY_MS } from './constants.ts'

/**
 * Moves the version in the transaction of a status change, and records the new version on the
 * certificates that changed (`serials`): a CRL built before it commits records an older version
 * and is built again (crl.ts: a partition's CRL only when one of its certificates changed); other
 * instances drop their pre-signed OCSP answers (ocsp.ts). The version's row stays locked until
 * commit, so versions are given in commit order: a snapshot at version v shows exactly the
 * changes recorded at v or below.
 */
export async function statusChanged(trx: DatabaseTransaction, serials: readonly string[]): Promise<void> {
  await sql`with moved as (update certificate_status_version set version = version + 1 where id = 1 returning version)
    update certificate set status_version = moved.version from moved where certificate.serial in (${sql.join(serials)})`.execute(trx) // primary keys
}

/** The version now. */
export async function statusVersion(db: Database): Promise<string> {
  const row = await db.selectFrom('certificate_status_version').select('version').where('id', '=', 1).executeTakeFirst() // primary key
  return versionText(row?.version)
}

/** The version as statusVersion gives it, from the column's value. */
export const versionText = (version: number | string | undefined | null) => `v${version ?? 0}`

/** The version's number ('v12' -> 12). */
export const versionNumber = (version: string) => Number(version.slice(1))

/** What a status read gives: its value, and the status version of the database that answered it, read in the same snapshot. */
export interface Versioned<T> {
  version: string
  value: T
}

/**
 * Where certificate statuses are read from: a streaming replica of the database when one is
 * configured (DATABASE_READ_URL), otherwise the database. Every status change moves the version
 * in its own transaction, and a replica replays transactions in commit order, so a replica whose
 * snapshot is at version v shows every status change up to v. Each read says the version of the
 * snapshot it read (in the same statement or transaction), and a replica's answer is taken only
 * when that version is at least the one the caller knows from the database: this holds for each
 * answer, whichever replica behind a pool of them gave it. A replica that is behind is passed
 * over for REPLICA_RECHECK_MS, one that fails for REPLICA_RETRY_MS (reported once); its reads
 * never make an answer fail.
 */
export class StatusSource {
  readonly #primary: Database
  readonly #replica: Database | undefined
  readonly #onReplicaError: (err: unknown) => void
  /** Until when the replica is not asked: it was behind, or it failed. */
  #skipReplicaUntil = -Infinity
  /** Whether the last read of the replica failed: a failure is reported once, until one succeeds. */
  #failing = false

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
   * Runs `query` on the replica, and takes its answer if the replica had replayed `version` (read
   * from the database); otherwise runs it on the database. `again` (a row the replica may not
   * have yet, such as a certificate just issued) sends the query to the database as well.
   */
  async read<T>(version: string | undefined, query: (db: Database) => Promise<Versioned<T>>, again: (value: T) => boolean = () => false): Promise<T> {
    if (version !== undefined) {
      const answer = await this.#fromReplica(async (replica) => {
        const { version: at, value } = await query(replica)
        return versionNumber(at) < versionNumber(version) ? undefined : { value }
      })
      if (answer && !again(answer.value)) return answer.value
    }
    return (await query(this.#primary)).value
  }

  /**
   * Runs `scan` (several statements): on the replica in one read-only snapshot if that snapshot
   * has replayed `version`, otherwise on the database as it is (its version never goes back).
   */
  async scan<T>(version: string, scan: (db: Database) => Promise<T>): Promise<T> {
    const answer = await this.#fromReplica((replica) => replica.transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(async (trx) => {
      // A snapshot behind the version is not scanned: its answer would be passed over.
      return versionNumber(await statusVersion(trx)) < versionNumber(version) ? undefined : { value: await scan(trx) }
    }))
    return answer ? answer.value : await scan(this.#primary)
  }

  /**
   * The replica's answer to `attempt`, or undefined: no replica, skipped for now, behind (the
   * attempt's undefined; skipped for REPLICA_RECHECK_MS) or failing (skipped for REPLICA_RETRY_MS).
   */
  async #fromReplica<T>(attempt: (replica: Database) => Promise<{ value: T } | undefined>): Promise<{ value: T } | undefined> {
    if (!this.#replica || performance.now() < this.#skipReplicaUntil) return undefined
    try {
      const answer = await attempt(this.#replica)
      this.#failing = false
      if (!answer) this.#skipReplicaUntil = performance.now() + REPLICA_RECHECK_MS
      return answer
    } catch (err) {
      if (!this.#failing) this.#onReplicaError(err)
      this.#failing = true
      this.#skipReplicaUntil = performance.now() + REPLICA_RETRY_MS
      return undefined
    }
  }
}
