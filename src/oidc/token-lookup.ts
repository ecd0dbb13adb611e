import { CompiledQuery } from 'kysely'
import type { Database } from '../db/database.ts'
import type { Clock } from '../util/clock.ts'
import type { StoredRow } from './adapter.ts'
import type { HotTokens } from './hot-tokens.ts'

/** The bearer tokens introspection (and revocation) looks for as each kind at once. */
export const LOOKED_UP_TOGETHER = new Set(['AccessToken', 'ClientCredentials', 'RefreshToken'])

/** A stored row (as the adapter's find reads it), with its model, as one lookup reads it. */
export type LookedUpRow = StoredRow & { model: string }

/**
 * One statement for the finds of one token value as several kinds, made in the same turn.
 * oidc-provider's introspection and revocation look a token up as an access token, a
 * client-credentials token and a refresh token in parallel (its findToken); the ids are the
 * same hash, so the finds made before the turn ends are answered by one query over those models,
 * which the primary key serves. A find alone costs what it did. The statement is `sql`, the
 * adapter's find with the model a list: the same rows, checks and liveness.
 */
export class TokenLookup {
  readonly #db: Database
  readonly #clock: Clock
  readonly #sql: string
  readonly #pending = new Map<string, { models: Set<string>; rows: Promise<LookedUpRow[]> }>()

  constructor(db: Database, clock: Clock, sql: string) {
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
    let batch = this.#pending.get(key)
    if (!batch) {
      const models = new Set<string>()
      const generation = hot?.generation
      // The query leaves once the finds of this turn are in: oidc-provider starts them in one expression.
      const rows = new Promise<void>((resolve) => queueMicrotask(resolve)).then(async () => {
        this.#pending.delete(key)
        const { rows: found } = await this.#db.executeQuery<LookedUpRow>(CompiledQuery.raw(this.#sql, [[...models], key, this.#clock.now()]))
        if (hot && generation !== undefined) hot.keep(key, found, generation)
        return found
      })
      batch = { models, rows }
      this.#pending.set(key, batch)
    }
    batch.models.add(model)
    return (await batch.rows).find((row) => row.model === model)
  }
}
