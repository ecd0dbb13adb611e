import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type TransactionSettings,
} from 'kysely'
import type { PGlite } from '@electric-sql/pglite'
import { DataDirLock } from './data-dir-lock.ts'

/**
 * A Kysely dialect over an embedded PGlite database: one connection, handed to one user at a
 * time, so a transaction owns the database until it commits or rolls back. Everything else
 * (SQL, adapter, introspection) is PostgreSQL's, which is why the same migrations run on both.
 */
export class PGliteDialect implements Dialect {
  readonly #dataDir: string | undefined

  /** `dataDir` undefined = in memory (tests). */
  constructor(dataDir?: string) {
    this.#dataDir = dataDir
  }

  createAdapter() { return new PostgresAdapter() }
  createDriver(): Driver { return new PGliteDriver(this.#dataDir) }
  createQueryCompiler() { return new PostgresQueryCompiler() }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kysely's Dialect interface takes any database
  createIntrospector(db: Kysely<any>) { return new PostgresIntrospector(db) }
}

class PGliteDriver implements Driver {
  readonly #dataDir: string | undefined
  #lock: DataDirLock | undefined
  #pglite: PGlite | undefined
  #connection: PGliteConnection | undefined
  /** Resolves when the current holder releases the connection; callers queue behind it. */
  #queue: Promise<void> = Promise.resolve()

  constructor(dataDir: string | undefined) {
    this.#dataDir = dataDir
  }

  async init(): Promise<void> {
    if (this.#dataDir) this.#lock = DataDirLock.acquire(this.#dataDir)
    try {
      // Loaded only when the embedded database is used: a server on PostgreSQL never loads it.
      const { PGlite } = await import('@electric-sql/pglite')
      this.#pglite = await PGlite.create(this.#dataDir)
    } catch (err) {
      this.#lock?.release()
      throw err
    }
    this.#connection = new PGliteConnection(this.#pglite)
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    let release!: () => void
    const previous = this.#queue
    this.#queue = new Promise((resolve) => { release = resolve })
    await previous
    this.#connection!.release = release
    return this.#connection!
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    let sql = 'begin'
    if (settings.isolationLevel) sql += ` isolation level ${settings.isolationLevel}`
    if (settings.accessMode) sql += ` ${settings.accessMode}`
    await connection.executeQuery(CompiledQuery.raw(sql))
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'))
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'))
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const conn = connection as PGliteConnection
    const release = conn.release
    conn.release = undefined
    release?.()
  }

  async destroy(): Promise<void> {
    // Wait for whoever holds the connection, so a shutdown never cuts a transaction in half.
    await this.#queue
    await this.#pglite?.close()
    this.#pglite = undefined
    this.#lock?.release()
  }
}

class PGliteConnection implements DatabaseConnection {
  readonly #pglite: PGlite
  release: (() => void) | undefined

  constructor(pglite: PGlite) {
    this.#pglite = pglite
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.#pglite.query<R>(query.sql, [...query.parameters], { rowMode: 'object' })
    return {
      rows: result.rows,
      ...(result.affectedRows !== undefined ? { numAffectedRows: BigInt(result.affectedRows) } : {}),
    }
  }

  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming queries are not supported by the embedded database')
  }
}
