import Provider from 'oidc-provider'
import type { StoredRow } from './adapter.ts'

/** A code's or refresh token's consumption, held back to be made with the request's next write. */
export interface HeldConsumption {
  model: string
  /** The storage key of the consumed code or token. */
  key: string
  at: Date
}

interface RequestState {
  rows: Map<string, StoredRow>
  consumption?: HeldConsumption
  /** Rows this request already deleted (read to be destroyed): their destroy is done. */
  gone: Set<string>
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
 * - **A code's or refresh token's consumption** (adapter.ts consume): made in the statement of
 *   the request's next write, which oidc-provider makes right after (the access token a code
 *   gives, a refresh token's replacement). That write happens only with the consumption, so an
 *   exchange or a rotation is whole or not at all: a process that dies in between leaves the
 *   code or token usable, not a client with nothing.
 * - **An interaction read to be destroyed** (a resume): deleted as it is read; its destroy is
 *   then already done.
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

  /** Whether the request is oidc-provider's resume, which reads its interaction to destroy it. */
  get resuming(): boolean {
    return (this.#current() as { oidc?: { route?: string } } | undefined)?.oidc?.route === 'resume'
  }

  /** The request deleted this row as it read it. */
  deleted(model: string, key: string): void {
    this.#state(true)?.gone.add(`${model}:${key}`)
  }

  /** Whether the request already deleted this row (once: a row written again is there again). */
  takeDeleted(model: string, key: string): boolean {
    return this.#state(false)?.gone.delete(`${model}:${key}`) ?? false
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
    if (!state && create) this.#states.set(request, state = { rows: new Map(), gone: new Set() })
    return state
  }
}
