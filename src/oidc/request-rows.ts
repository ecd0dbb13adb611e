import Provider from 'oidc-provider'
import type { StoredRow } from './adapter.ts'

/** A refresh token's consumption, held back to be made with the write of its replacement. */
export interface HeldConsumption {
  /** The storage key of the consumed refresh token. */
  key: string
  at: Date
}

interface RequestState {
  rows: Map<string, StoredRow>
  consumption?: HeldConsumption
}

/**
 * What one of oidc-provider's requests read ahead or held back, for its own later statements.
 * oidc-provider runs each request in an AsyncLocalStorage (Provider.ctx); the state is kept per
 * request and goes with it. Outside a request (the CLI, a job, a test's bare adapter) nothing
 * is held: every find reads and every write is made at once.
 *
 * - **Rows read ahead.** A statement that read a row the request finds next (a token with its
 *   grant, a registration with its grant) gives it here, and that find takes it instead of a
 *   second round trip. A row is taken once, by the request that read it, so it is as fresh as a
 *   second read in that request would be; a row held for one request is never served to another
 *   (a grant revoked in between would be). Any write of the request drops what it holds: a find
 *   after a write reads the database.
 * - **A refresh token's consumption** (adapter.ts consume): made in the one statement that
 *   writes its replacement, so a rotation is whole or not at all. A process that dies in between
 *   leaves the old token usable, not a client with no token.
 */
export class RequestRows {
  readonly #states = new WeakMap<object, RequestState>()
  readonly #current: () => object | undefined

  constructor(current: () => object | undefined = () => Provider.ctx) {
    this.#current = current
  }

  /** Whether a request is under way here (anything given or held would be kept for it). */
  get active(): boolean {
    return this.#current() !== undefined
  }

  give(model: string, key: string, row: StoredRow): void {
    this.#state(true)?.rows.set(`${model}:${key}`, row)
  }

  take(model: string, key: string): StoredRow | undefined {
    const rows = this.#state(false)?.rows
    const name = `${model}:${key}`
    const row = rows?.get(name)
    if (row) rows!.delete(name)
    return row
  }

  /** The request writes: nothing read before it is served after it. */
  wrote(): void {
    this.#state(false)?.rows.clear()
  }

  /** Holds a consumption for the request's next write; false outside a request (make it now). */
  hold(consumption: HeldConsumption): boolean {
    const state = this.#state(true)
    if (!state) return false
    state.consumption = consumption
    return true
  }

  /** The consumption held by the current request (or by `request`), handed to whoever makes it. */
  release(request?: object): HeldConsumption | undefined {
    const state = request ? this.#states.get(request) : this.#state(false)
    const held = state?.consumption
    if (state) state.consumption = undefined
    return held
  }

  #state(create: boolean): RequestState | undefined {
    const request = this.#current()
    if (!request) return undefined
    let state = this.#states.get(request)
    if (!state && create) this.#states.set(request, state = { rows: new Map() })
    return state
  }
}
