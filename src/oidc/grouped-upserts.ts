import { CompiledQuery } from 'kysely'
import type { Database } from '../db/database.ts'

/**
 * Statements of grouped upserts in flight at once; what comes meanwhile waits and goes in the next
 * one (group commit, as PostgreSQL's own WAL flushes work). Each statement ends in a commit,
 * whose cost is the statement's and not its rows', so the fewer and fuller the statements, the
 * less CPU per token. With two, each carried half as many rows: on 2 cores, 0.052–0.055 against
 * 0.033–0.035 ms of PostgreSQL's CPU per client_credentials token, 4,005–4,394 against
 * 4,483–5,285 tokens/s (2026-12-07, docs/sizing.md). A write may wait for one statement more,
 * about a commit's time.
 */
const MAX_IN_FLIGHT = 1
/** Rows one statement carries at most. */
const MAX_ROWS = 64

/** What the statement returns for each row it wrote. */
export interface WrittenRow {
  model: string
  id: string
  certificate_serial: string | null
}

/** A code or refresh token consumed by the statement that writes the rows given with it. */
export interface GroupedConsumption {
  at: Date
  model: string
  /** Its storage key. */
  key: string
}

/** One caller's write: its rows (each an upsert's parameters, model and key first), and what they are written only with. */
export interface GroupedWrite {
  rows: readonly (readonly unknown[])[]
  consumption?: GroupedConsumption
}

/** A statement for these writes, their parameters in order, returning WrittenRow for every row written. */
export type GroupedStatement = (writes: readonly GroupedWrite[]) => { sql: string; parameters: unknown[] }

interface Pending {
  write: GroupedWrite
  /** The rows' names (model:key), and the consumed token's: none may appear twice in a statement. */
  names: string[]
  resolve: (rows: WrittenRow[]) => void
  reject: (err: unknown) => void
}

/**
 * Token rows that concurrent requests write, sent as one multi-row statement (group commit): a
 * write goes at once while no statement is in flight (MAX_IN_FLIGHT), and the writes that come
 * meanwhile go together in the next one, so under load one round trip and one commit carry
 * many tokens, and without load nothing waits. Each caller waits for the statement that carries
 * its rows to commit before it answers: a token is as durable as when written alone. A row written
 * twice (the same model and key), or a token consumed twice, goes in the next statement, not the
 * same one. A statement that fails is made again write by write, so a write's failure is its own
 * caller's only.
 *
 * A write may be a consumption's (a code exchanged, a refresh token rotated): its rows are written
 * only if the statement is the one that consumes the code or token, so a caller that lost the race
 * to another use gets no rows back (a reuse), whoever else's rows the statement carried.
 */
export class GroupedUpserts {
  readonly #db: Database
  readonly #statement: GroupedStatement
  #queue: Pending[] = []
  #inFlight = 0

  constructor(db: Database, statement: GroupedStatement) {
    this.#db = db
    this.#statement = statement
  }

  /** Makes one write; what the statement returned for its rows (none for a consumption lost to another use). */
  write(write: GroupedWrite): Promise<WrittenRow[]> {
    const names = write.rows.map((row) => `${String(row[0])}:${String(row[1])}`)
    if (write.consumption) names.push(`consumed:${write.consumption.model}:${write.consumption.key}`)
    return new Promise((resolve, reject) => {
      this.#queue.push({ write, names, resolve, reject })
      this.#pump()
    })
  }

  #pump(): void {
    while (this.#inFlight < MAX_IN_FLIGHT && this.#queue.length) {
      const batch = this.#take()
      this.#inFlight++
      void this.#send(batch).finally(() => {
        this.#inFlight--
        this.#pump()
      })
    }
  }

  /** The next statement's writes: in order, each name once, at most MAX_ROWS rows (and always the first write). */
  #take(): Pending[] {
    const batch: Pending[] = []
    const rest: Pending[] = []
    const names = new Set<string>()
    let rows = 0
    for (const pending of this.#queue) {
      if ((batch.length === 0 || rows + pending.write.rows.length <= MAX_ROWS) && !pending.names.some((name) => names.has(name))) {
        for (const name of pending.names) names.add(name)
        rows += pending.write.rows.length
        batch.push(pending)
      } else {
        rest.push(pending)
      }
    }
    this.#queue = rest
    return batch
  }

  async #send(batch: Pending[]): Promise<void> {
    let written: WrittenRow[]
    try {
      written = await this.#write(batch)
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err)
        return
      }
      // One write's failure fails the statement: each is made again alone, and fails alone.
      await Promise.all(batch.map(async (pending) => {
        try {
          pending.resolve(await this.#write([pending]))
        } catch (own) {
          pending.reject(own)
        }
      }))
      return
    }
    const byName = new Map(written.map((row) => [`${row.model}:${row.id}`, row]))
    for (const pending of batch) pending.resolve(pending.names.flatMap((name) => byName.get(name) ?? []))
  }

  async #write(batch: Pending[]): Promise<WrittenRow[]> {
    const { sql, parameters } = this.#statement(batch.map((pending) => pending.write))
    return (await this.#db.executeQuery<WrittenRow>(CompiledQuery.raw(sql, parameters))).rows
  }
}
