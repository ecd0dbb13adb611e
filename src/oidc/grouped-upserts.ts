import { CompiledQuery } from 'kysely'
import type { Database } from '../db/database.ts'

/** Statements of grouped upserts in flight at once; what comes meanwhile waits and goes in the next one. */
const MAX_IN_FLIGHT = 2
/** Rows one statement carries at most. */
const MAX_ROWS = 64

/** What the statement returns for each row it wrote. */
export interface WrittenRow {
  model: string
  id: string
  certificate_serial: string | null
}

interface Pending {
  model: string
  key: string
  values: readonly unknown[]
  resolve: (row: WrittenRow | undefined) => void
  reject: (err: unknown) => void
}

/**
 * Token rows that concurrent requests write, sent as one multi-row statement (group commit): a
 * write goes at once while fewer than MAX_IN_FLIGHT statements are in flight, and the writes that
 * come meanwhile go together in the next one, so under load one round trip and one commit carry
 * many tokens, and without load nothing waits. Each caller waits for the statement that carries
 * its row to commit before it answers: a token is as durable as when written alone. A row written
 * twice (the same model and key) goes in the next statement, not the same one. A statement that
 * fails is made again row by row, so a row's failure is its own caller's only.
 * `statement(n)`: the upsert of n rows, parameters one row after another, returning WrittenRow.
 */
export class GroupedUpserts {
  readonly #db: Database
  readonly #statement: (rows: number) => string
  #queue: Pending[] = []
  #inFlight = 0

  constructor(db: Database, statement: (rows: number) => string) {
    this.#db = db
    this.#statement = statement
  }

  /** Writes one row (its upsert parameters); what the statement returned for it. */
  upsert(model: string, key: string, values: readonly unknown[]): Promise<WrittenRow | undefined> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ model, key, values, resolve, reject })
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

  /** The next statement's rows: in order, each model and key once, at most MAX_ROWS. */
  #take(): Pending[] {
    const batch: Pending[] = []
    const rest: Pending[] = []
    const names = new Set<string>()
    for (const pending of this.#queue) {
      const name = `${pending.model}:${pending.key}`
      if (batch.length < MAX_ROWS && !names.has(name)) {
        names.add(name)
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
      // One row's failure fails the statement: each is made again alone, and fails alone.
      await Promise.all(batch.map(async (pending) => {
        try {
          pending.resolve((await this.#write([pending]))[0])
        } catch (own) {
          pending.reject(own)
        }
      }))
      return
    }
    const byName = new Map(written.map((row) => [`${row.model}:${row.id}`, row]))
    for (const pending of batch) pending.resolve(byName.get(`${pending.model}:${pending.key}`))
  }

  async #write(rows: Pending[]): Promise<WrittenRow[]> {
    const parameters = rows.flatMap((row) => row.values)
    return (await this.#db.executeQuery<WrittenRow>(CompiledQuery.raw(this.#statement(rows.length), parameters))).rows
  }
}
