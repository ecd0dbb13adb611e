import type { ChangeNotices } from '../db/change-notices.ts'
import type { LookedUpRow } from './token-lookup.ts'

/** How long a service token found by introspection is answered from memory at most. */
export const HOT_TOKEN_MS = 1000
/** Service tokens kept at most (the oldest go first). */
const HOT_TOKENS_MAX = 10_000

interface Entry {
  row: LookedUpRow
  clientId: string
  until: number
}

/**
 * Service tokens (client_credentials) as introspection found them, kept for a second: a resource
 * server that asks about the same token at every call it receives is answered without a round
 * trip. Only introspection reads them (RequestRows.introspecting), and only service tokens are
 * kept: they belong to no login, grant, session or certificate, so nothing but their own end can
 * end them. What ends one drops it here and on every instance (change notices):
 * - its revocation (adapter destroy of a ClientCredentials token): kind `token`, by key;
 * - a rotation of its client's secret, which deletes the client's service tokens, and any change
 *   to the client: kind `client`, by client id (ClientStore announces it after the delete);
 * - a lost listening connection: everything (ChangeNotices clears every cache when it reconnects).
 * A find that started before a drop keeps nothing (the generation moved meanwhile). A notice
 * crosses instances in milliseconds; were it lost with the connection, an instance would go on
 * answering for at most HOT_TOKEN_MS. A token's own expiry is checked by oidc-provider on every answer.
 */
export class HotTokens {
  readonly #ttlMs: number
  readonly #entries = new Map<string, Entry>()
  #generation = 0
  /** Answers given from memory (tests look). */
  served = 0

  constructor(options: { ttlMs?: number } = {}) {
    this.#ttlMs = options.ttlMs ?? HOT_TOKEN_MS
  }

  /** Drops what the announced changes end, on this instance and (through the notices) on every other. */
  listen(changes: ChangeNotices): void {
    changes.register('token', { delete: (key) => this.#drop(key), clear: () => this.clear() })
    changes.register('client', { delete: (clientId) => this.#dropClient(clientId), clear: () => this.clear() })
  }

  /** Moves with every drop: a find that began at another generation keeps nothing. */
  get generation(): number {
    return this.#generation
  }

  /**
   * A find of this storage key as `model`, answered from memory: the kept service token, or null
   * when a service token is kept under the key and another kind is asked for (the key is its
   * random value: no token of another kind has it); undefined when nothing fresh is kept.
   */
  answer(key: string, model: string): LookedUpRow | null | undefined {
    const entry = this.#entries.get(key)
    if (!entry) return undefined
    if (entry.until <= performance.now()) {
      this.#entries.delete(key)
      return undefined
    }
    if (entry.row.model !== model) return null
    this.served++
    return entry.row
  }

  /** Keeps what a find at `generation` read, if it is one usable service token and nothing was dropped since. */
  keep(key: string, rows: readonly LookedUpRow[], generation: number): void {
    const [row] = rows
    if (rows.length !== 1 || row!.model !== 'ClientCredentials' || row!.usable === false || generation !== this.#generation) return
    const clientId = clientIdOf(row!.payload)
    if (clientId === undefined) return
    if (this.#entries.size >= HOT_TOKENS_MAX) this.#entries.delete(this.#entries.keys().next().value!)
    this.#entries.set(key, { row: row!, clientId, until: performance.now() + this.#ttlMs })
  }

  clear(): void {
    this.#generation++
    this.#entries.clear()
  }

  #drop(key: string): void {
    this.#generation++
    this.#entries.delete(key)
  }

  #dropClient(clientId: string): void {
    this.#generation++
    for (const [key, entry] of this.#entries) if (entry.clientId === clientId) this.#entries.delete(key)
  }
}

function clientIdOf(payload: string): string | undefined {
  const { clientId } = JSON.parse(payload) as { clientId?: unknown }
  return typeof clientId === 'string' ? clientId : undefined
}
