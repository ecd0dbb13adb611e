import { CompiledQuery } from 'kysely'
import type { Database } from '../db/database.ts'
import type { Clock } from '../util/clock.ts'
import type { StoredRow } from './adapter.ts'
import type { HotTokens } from './hot-tokens.ts'

/** The bearer tokens introspection (and revocation) looks for as each kind at once. */
export const LOOKED_UP_TOGETHER = new Set(['AccessToken', 'ClientCredentials', 'RefreshToken'])

/** A stored row (as the adapter's find reads it), with its model and key, as one lookup reads it. */
export type LookedUpRow = StoredRow & { model: string; token_key: string }

/**
 * Lookup statements in flight at once; the lookups that come meanwhile wait and go in the next
 * one. One, as for writes (grouped-upserts.ts): with two, each carried half as many keys, and
 * rotating refreshes at 32 connections on 2 cores ran at 1,326–1,384/s against 1,455–1,510 with
 * one (2026-12-07, docs/sizing.md).
 */
const MAX_IN_FLIGHT = 1
/** Tokens one statement looks up at most. */
const MAX_KEYS = 64

/** The lookup statements (see TokenLookup): $3 is always the time. */
interface LookupStatements {
  oneAsOne: string
  one: string
  many: string
}

/** The finds of one token value made in one turn, as the kinds they asked for. */
interface Lookup {
  key: string
  models: Set<string>
  hot?: HotTokens
  generation?: number
  rows: PromiseWithResolvers<LookedUpRow[]>
}

/**
 * Bearer-token finds in few statements.
 * - One token as several kinds: oidc-provider's introspection and revocation look a token up as
 *   an access token, a client-credentials token and a refresh token in parallel (its findToken);
 *   the ids are the same hash, so the finds made before the turn ends are one lookup.
 * - Several tokens of concurrent requests (refreshes, userinfo, introspections of login tokens):
 *   a lookup goes at once while no statement is in flight (MAX_IN_FLIGHT), and the lookups
 *   that come meanwhile go together in the next one, as GroupedUpserts does for writes.
 *   Without load nothing waits; under load one round trip answers many requests.
 * The statements are the adapter's find for one key as one model (`sql.oneAsOne`: $1 the model,
 * $2 the key), as several (`sql.one`: $1 their list), or for several keys (`sql.many`: $2 their
 * list): the same rows, checks and liveness, each row with its key; the primary key serves them.
 * Each lookup gets the rows of its own key and kinds only.
 */
export class TokenLookup {
  readonly #db: Database
  readonly #clock: Clock
  readonly #sql: LookupStatements
  /** This turn's lookups, by key. */
  readonly #turn = new Map<string, Lookup>()
  #queue: Lookup[] = []
  #inFlight = 0

  constructor(db: Database, clock: Clock, sql: LookupStatements) {
    this.#db = db
    this.#clock = clock
    this.#sql = sql
  }

  /**
   * `hot` (introspection's finds): a service token kept there is the answer, without a query (it
   * is no token of another kind: the key is its random value), and a service token found is kept.
   */
  async find(model: string, key: string, hot?: HotTokens): Promise<LookedUpRow | undefined> {
    const kept = hot?.answer(key, model)
    if (kept !== undefined) return kept ?? undefined
    let lookup = this.#turn.get(key)
    if (!lookup) {
      const started: Lookup = { key, models: new Set(), hot, generation: hot?.generation, rows: Promise.withResolvers() }
      this.#turn.set(key, started)
      // The lookup is queued once the finds of this turn are in: oidc-provider starts them in one expression.
      queueMicrotask(() => {
        this.#turn.delete(key)
        this.#queue.push(started)
        this.#pump()
      })
      lookup = started
    }
    lookup.models.add(model)
    return (await lookup.rows.promise).find((row) => row.model === model)
  }

  #pump(): void {
    while (this.#inFlight < MAX_IN_FLIGHT && this.#queue.length) {
      const batch = this.#queue.splice(0, MAX_KEYS)
      this.#inFlight++
      void this.#send(batch).finally(() => {
        this.#inFlight--
        this.#pump()
      })
    }
  }

  async #send(batch: Lookup[]): Promise<void> {
    const models = [...new Set(batch.flatMap((lookup) => [...lookup.models]))]
    let found: LookedUpRow[]
    try {
      const [sql, parameters] = batch.length > 1 ? [this.#sql.many, [models, batch.map((lookup) => lookup.key)]]
        : models.length === 1 ? [this.#sql.oneAsOne, [models[0], batch[0]!.key]] : [this.#sql.one, [models, batch[0]!.key]]
      found = (await this.#db.executeQuery<LookedUpRow>(CompiledQuery.raw(sql, [...parameters, this.#clock.now()]))).rows
    } catch (err) {
      for (const lookup of batch) lookup.rows.reject(err)
      return
    }
    for (const lookup of batch) {
      const own = found.filter((row) => row.token_key === lookup.key && lookup.models.has(row.model))
      if (lookup.hot && lookup.generation !== undefined) lookup.hot.keep(lookup.key, own, lookup.generation)
      lookup.rows.resolve(own)
    }
  }
}
