import { sql, type RawBuilder } from 'kysely'
import type { Database } from '../db/database.ts'
import { writeAlong, type RequestRows } from '../db/request-rows.ts'
import type { Clock } from './clock.ts'

export interface RateDecision {
  allowed: boolean
  /** Seconds until the window resets (when not allowed). */
  retryAfterSeconds: number
}

/**
 * Fixed-window counters in the database, shared by all instances: one atomic upsert per hit.
 * A hit over the limit still counts, so hammering does not reopen the window early.
 */
export class RateLimiter {
  readonly #db: Database
  readonly #clock: Clock

  constructor(db: Database, clock: Clock) {
    this.#db = db
    this.#clock = clock
  }

  async hit(key: string, limit: number, windowSeconds: number): Promise<RateDecision> {
    const now = this.#clock.now().getTime()
    const windowMs = windowSeconds * 1000
    const windowStart = new Date(Math.floor(now / windowMs) * windowMs)
    const row = await this.#db.insertInto('rate_limit')
      .values({ key, window_start: windowStart, count: 1 })
      .onConflict((oc) => oc.columns(['key', 'window_start']).doUpdateSet({ count: sql`rate_limit.count + 1` }))
      .returning('count')
      .executeTakeFirstOrThrow()
    const allowed = row.count <= limit
    return { allowed, retryAfterSeconds: allowed ? 0 : Math.ceil((windowStart.getTime() + windowMs - now) / 1000) }
  }

  /**
   * Takes back a hit of the current window (what it counted did not happen after all: a text
   * message the gateway refused), so that only what happened counts against the limit.
   */
  async undo(key: string, windowSeconds: number, requests?: RequestRows): Promise<void> {
    const windowMs = windowSeconds * 1000
    const windowStart = new Date(Math.floor(this.#clock.now().getTime() / windowMs) * windowMs)
    const query = this.#db.updateTable('rate_limit').set({ count: sql`greatest(count - 1, 0)` })
      .where('key', '=', key).where('window_start', '=', windowStart).compile() // primary key
    // With `requests`, in the request's next statement (db/request-rows.ts); otherwise at once.
    await writeAlong(requests, this.#db, { query })
  }

  /**
   * The count so far in the current window, without adding to it, as an expression: callers
   * read it inside a statement they run anyway (one round trip less). Served by the primary key.
   */
  countExpression(key: string, windowSeconds: number): RawBuilder<number> {
    const windowMs = windowSeconds * 1000
    const windowStart = new Date(Math.floor(this.#clock.now().getTime() / windowMs) * windowMs)
    return sql<number>`coalesce((select count from rate_limit where key = ${key} and window_start = ${windowStart}), 0)`
  }

  /**
   * A hit as a statement to run inside another (a data-modifying CTE) that returns the new
   * `count`: the caller decides on the count its own hit produced.
   */
  hitExpression(key: string, windowSeconds: number): RawBuilder<{ count: number }> {
    const windowMs = windowSeconds * 1000
    const windowStart = new Date(Math.floor(this.#clock.now().getTime() / windowMs) * windowMs)
    return sql<{ count: number }>`insert into rate_limit (key, window_start, count) values (${key}, ${windowStart}, 1)
      on conflict (key, window_start) do update set count = rate_limit.count + 1 returning count`
  }

  /** Deletes windows that ended more than a day ago. */
  async sweep(): Promise<number> {
    const cutoff = new Date(this.#clock.now().getTime() - 24 * 60 * 60 * 1000)
    const result = await this.#db.deleteFrom('rate_limit').where('window_start', '<', cutoff).executeTakeFirst()
    return Number(result.numDeletedRows)
  }
}
