import pg from 'pg'
import { sql } from 'kysely'
import type { Database } from './database.ts'

/** The PostgreSQL channel on which a change to a cached row is announced to every instance. */
export const CHANGE_CHANNEL = 'postcert_changes'
/** Waits before connecting again after the listening connection failed: doubles from the first to the last. */
const RECONNECT_MS = [1000, 30_000] as const

/** What instances cache and a writer announces: a client (by client_id), a subscriber's claims (by id), a service token's end (by storage key). */
export type ChangeKind = 'client' | 'subscriber' | 'token'

/** A cache a change notice empties an entry of (TtlCache). */
export interface ChangeableCache {
  delete(key: string): void
  clear(): void
}

/**
 * Changes to rows that each instance caches for a few seconds (clients, subscribers' claims),
 * announced to every instance, so that a rotated client secret or a deleted client stops working
 * everywhere at once, not when the cache entry expires.
 *
 * - `announce` drops the entry here, and sends a NOTIFY on CHANGE_CHANNEL (within a transaction,
 *   PostgreSQL delivers it at commit, also back to this instance).
 * - `listen(url)` keeps one connection of its own LISTENing (not a pool's: a pooler in
 *   transaction mode cannot hold a LISTEN, so DATABASE_URL must reach PostgreSQL itself), and
 *   drops the entry named by each notice. Notices sent while it is not connected are lost: when
 *   it (re)connects it empties every cache, and until then the caches' own expiry bounds what an
 *   instance can miss (CLIENT_CACHE_SECONDS, SUBSCRIBER_CACHE_SECONDS).
 * - On the embedded database there is one process (the data directory is locked), and `announce`
 *   dropping the entry here is all there is to do.
 */
export class ChangeNotices {
  readonly #caches = new Map<ChangeKind, ChangeableCache[]>()
  readonly #onError: (err: unknown) => void
  readonly #applicationName: string
  #client?: pg.Client
  #closed = false
  #wait: number = RECONNECT_MS[0]
  #timer?: NodeJS.Timeout

  /** `applicationName`: how the listening connection shows in pg_stat_activity. */
  constructor(options: { onError?: (err: unknown) => void; applicationName?: string } = {}) {
    this.#onError = options.onError ?? (() => {})
    this.#applicationName = options.applicationName ?? 'postcert-changes'
  }

  /** `cache` loses an entry whenever a change of this kind, to the row of that key, is announced. */
  register(kind: ChangeKind, cache: ChangeableCache): void {
    this.#caches.set(kind, [...this.#caches.get(kind) ?? [], cache])
  }

  /** Announces a change (in `db`, which may be the writer's transaction). */
  async announce(db: Database, kind: ChangeKind, key: string): Promise<void> {
    this.#drop(kind, key)
    await sql`select pg_notify(${CHANGE_CHANNEL}, ${`${kind}:${key}`})`.execute(db)
  }

  /** Listens for the changes other instances announce, until close(); resolves once listening. */
  async listen(url: string): Promise<void> {
    const client = new pg.Client({ connectionString: url, application_name: this.#applicationName })
    client.on('notification', (message) => {
      const [kind, ...rest] = (message.payload ?? '').split(':')
      this.#drop(kind as ChangeKind, rest.join(':'))
    })
    const lost = (err?: unknown) => {
      if (this.#client !== client) return
      this.#client = undefined
      client.removeAllListeners('end')
      void client.end().catch(() => {})
      if (this.#closed) return
      this.#onError(err ?? new Error('the connection ended'))
      this.#clearAll()
      this.#timer = setTimeout(() => { void this.listen(url).catch(() => {}) }, this.#wait)
      this.#timer.unref()
      this.#wait = Math.min(this.#wait * 2, RECONNECT_MS[1])
    }
    client.on('error', lost)
    client.on('end', () => lost())
    this.#client = client
    try {
      await client.connect()
      await client.query(`listen ${CHANGE_CHANNEL}`)
    } catch (err) {
      lost(err)
      throw err
    }
    // What was announced while no connection listened is unknown: nothing cached before is kept.
    this.#clearAll()
    this.#wait = RECONNECT_MS[0]
  }

  /** Whether a connection is listening now. */
  get listening(): boolean {
    return this.#client !== undefined
  }

  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    const client = this.#client
    this.#client = undefined
    await client?.end().catch(() => {})
  }

  #drop(kind: ChangeKind, key: string): void {
    for (const cache of this.#caches.get(kind) ?? []) cache.delete(key)
  }

  #clearAll(): void {
    for (const caches of this.#caches.values()) for (const cache of caches) cache.clear()
  }
}
