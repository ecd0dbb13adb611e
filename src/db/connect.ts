import { Kysely, PostgresDialect, type Dialect } from 'kysely'
import pg from 'pg'
import type { DatabaseConfig } from '../config/config.ts'
import type { Database, DatabaseSchema } from './database.ts'
import { PGliteDialect } from './pglite-driver.ts'

// timestamptz -> Date is pg's default; int8 (counts) and numeric come back as strings unless told.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v))

/** A Kysely instance over a pg pool, or over the embedded PGlite database. */
export function connectDatabase(config: DatabaseConfig | { kind: 'pglite-memory' }): Database {
  let dialect: Dialect
  if (config.kind === 'postgres') {
    const pool = new pg.Pool({ connectionString: config.url, max: 10, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 5_000 })
    // An idle client losing its connection must not crash the process; the pool replaces it.
    pool.on('error', () => {})
    dialect = new PostgresDialect({ pool })
  } else {
    dialect = new PGliteDialect(config.kind === 'pglite' ? config.dataDir : undefined)
  }
  return new Kysely<DatabaseSchema>({ dialect })
}
