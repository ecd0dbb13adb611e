import { AsyncLocalStorage } from 'node:async_hooks'
import type { CompiledQuery } from 'kysely'
import type { Database } from './database.ts'

/** The HTTP request under way (a Koa context), for every route: PostCert's and the provider's. */
const scope = new AsyncLocalStorage<object>()

/** Runs `next` (the rest of one request's handling) as request `ctx`. */
export const inRequest = <T>(ctx: object, next: () => Promise<T>): Promise<T> => scope.run(ctx, next)

/**
 * A small write that may be made in the statement of the request's next write: an audit event, a
 * counter taken back. Built by Kysely (values as parameters, none inlined). `done` runs once it
 * is made.
 */
export interface AlongWrite {
  query: CompiledQuery
  done?: () => void
}

/** A code's or refresh token's consumption, held back to be made with the request's next write. */
export interface HeldConsumption {
  model: string
  /** The storage key of the consumed code or token. */
  key: string
  at: Date
  /**
   * Token rows written only with this consumption, held along with it: a rotated refresh token's
   * replacement, written with the access token that follows it (adapter.ts upsert). Each is an
   * upsert's parameters.
   */
  rows?: readonly (readonly unknown[])[]
}

interface RequestState {
  rows: Map<string, object>
  consumption?: HeldConsumption
  /** Upserts' parameters (adapter.ts), held for the request's next write: a code, for the session saved after it. */
  pending: (readonly unknown[])[]
  /** Rows this request already deleted (read to be destroyed): their destroy is done. */
  gone: Set<string>
  along: AlongWrite[]
}

/**
 * What one request read ahead or held back, for its own later statements. Every request runs
 * in an AsyncLocalStorage (inRequest, from the provider's first middleware: provider.ts); the
 * state is kept per request and goes with it. Outside a request (the CLI, a job, a test's bare
 * adapter) nothing is held: every find reads and every write is made at once.
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
 *   code or token usable, not a client with nothing. A refresh token's replacement is itself
 *   held with the consumption, and written with the access token that follows it: a rotation is
 *   one statement.
 * - **An interaction read to be destroyed** (a resume): deleted as it is read; its destroy is
 *   then already done.
 * - **A code, for the session saved after it** (adapter.ts upsert): an authorization that gives a
 *   code saves the request's session as it ends, before its redirect is sent (oidc-provider's
 *   session middleware). The code's row is held and written in that statement, one round trip
 *   and one transaction for both; a write of anything else first makes it first, and a request
 *   that ends with it still held makes it then (settleRequest).
 * - **Writes along** (writeAlong): small writes a request makes before its next adapter write
 *   (a login's audit event and the attempt taken back from the address's count, before the
 *   interaction's result is saved) go in that write's statement, as data-modifying CTEs: one
 *   round trip, one transaction. A request that makes no such write makes them when it ends
 *   (settleRequest), before its answer is sent.
 */
export class RequestRows {
  readonly #states = new WeakMap<object, RequestState>()
  readonly #current: () => object | undefined

  constructor(current: () => object | undefined = () => scope.getStore()) {
    this.#current = current
  }

  /** Whether a request is under way here (anything given or held would be kept for it). */
  get active(): boolean {
    return this.#current() !== undefined
  }

  /** Whether the request is oidc-provider's resume, which reads its interaction to destroy it. */
  get resuming(): boolean {
    return this.#route() === 'resume'
  }

  /**
   * Whether the request's session is saved when the request ends: oidc-provider's session
   * middleware saves one that is not new or was touched (a login), unless it was destroyed.
   */
  get sessionSaved(): boolean {
    const session = (this.#current() as { oidc?: { session?: { new?: boolean; touched?: boolean; destroyed?: boolean } } } | undefined)?.oidc?.session
    return !!session && (!session.new || !!session.touched) && !session.destroyed
  }

  /** Whether the request is oidc-provider's introspection, whose service tokens may be answered from memory (hot-tokens.ts). */
  get introspecting(): boolean {
    return this.#route() === 'introspection'
  }

  /** oidc-provider's name for the route of the request under way, once it has matched one. */
  #route(): string | undefined {
    return (this.#current() as { oidc?: { route?: string } } | undefined)?.oidc?.route
  }

  /** The request deleted this row as it read it. */
  deleted(model: string, key: string): void {
    this.#state(true)?.gone.add(`${model}:${key}`)
  }

  /** Whether the request already deleted this row (once: a row written again is there again). */
  takeDeleted(model: string, key: string): boolean {
    return this.#state(false)?.gone.delete(`${model}:${key}`) ?? false
  }

  give(model: string, key: string, row: object): void {
    this.#state(true)?.rows.set(`${model}:${key}`, row)
  }

  /** The row given for this model and key (as the giver typed it), once. */
  take<Row extends object>(model: string, key: string): Row | undefined {
    const rows = this.#state(false)?.rows
    const name = `${model}:${key}`
    const row = rows?.get(name)
    if (row) rows!.delete(name)
    return row as Row | undefined
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
    const state = this.#stateOf(request)
    const held = state?.consumption
    if (state) state.consumption = undefined
    return held
  }

  /** Holds an upsert's parameters for the request's next write; false outside a request (write it now). */
  holdRow(row: readonly unknown[]): boolean {
    const state = this.#state(true)
    if (!state) return false
    state.pending.push(row)
    return true
  }

  /** The upserts held by the current request (or by `request`), handed to whoever writes them. */
  releaseRows(request?: object): (readonly unknown[])[] {
    const state = this.#stateOf(request)
    if (!state?.pending.length) return []
    const pending = state.pending
    state.pending = []
    return pending
  }

  /** Holds a write for the request's next statement; false outside a request (make it now). */
  along(write: AlongWrite): boolean {
    const state = this.#state(true)
    if (!state) return false
    state.along.push(write)
    return true
  }

  /** The writes held by the current request (or by `request`), handed to whoever makes them. */
  releaseAlong(request?: object): AlongWrite[] {
    const state = this.#stateOf(request)
    if (!state?.along.length) return []
    const along = state.along
    state.along = []
    return along
  }

  /** The state of `request` (settleRequest, after it ended), or of the current one. */
  #stateOf(request?: object): RequestState | undefined {
    return request ? this.#states.get(request) : this.#state(false)
  }

  #state(create: boolean): RequestState | undefined {
    const request = this.#current()
    if (!request) return undefined
    let state = this.#states.get(request)
    if (!state && create) this.#states.set(request, state = { rows: new Map(), gone: new Set(), along: [], pending: [] })
    return state
  }
}

/** Makes `write` in the request's next statement (RequestRows above), or now outside a request. */
export async function writeAlong(requests: RequestRows | undefined, db: Database, write: AlongWrite): Promise<void> {
  if (requests?.along(write)) return
  await db.executeQuery(write.query)
  write.done?.()
}

/**
 * `statement` with the writes along made first in it, as data-modifying CTEs (each runs exactly
 * once, in the statement's transaction), named along0, along1 … in order: the statement may read
 * what they return. Their parameters follow the statement's own.
 */
export function withWritesAlong(statement: string, parameters: readonly unknown[], along: readonly AlongWrite[]): { sql: string; parameters: unknown[] } {
  if (!along.length) return { sql: statement, parameters: [...parameters] }
  const all = [...parameters]
  const ctes = along.map((write, i) => {
    const offset = all.length
    all.push(...write.query.parameters)
    return `along${i} as (${shiftParameters(write.query.sql, offset)})`
  })
  const body = statement.trimStart()
  const sql = /^with\s/i.test(body) ? `with ${ctes.join(', ')}, ${body.slice(5)}` : `with ${ctes.join(', ')} ${body}`
  return { sql, parameters: all }
}

/** A statement's parameters ($1, $2 …; none inside a literal: Kysely-compiled, or PostCert's own text) renumbered to follow `offset` others. */
export const shiftParameters = (sql: string, offset: number): string => sql.replace(/\$(\d+)/g, (_, n: string) => `$${Number(n) + offset}`)
