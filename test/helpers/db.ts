import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { connectDatabase } from '../../src/db/connect.ts'
import type { Database } from '../../src/db/database.ts'

export type Backend = 'pglite' | 'postgres'

/** The backends to run database tests on: the embedded one always, PostgreSQL when DATABASE_URL is set. */
export const BACKENDS: Backend[] = process.env.DATABASE_URL ? ['pglite', 'postgres'] : ['pglite']

/** The default backend for tests that need one database: PostgreSQL when available. */
export const DEFAULT_BACKEND: Backend = process.env.DATABASE_URL ? 'postgres' : 'pglite'

export const NEEDS_POSTGRES = process.env.DATABASE_URL ? false : 'set DATABASE_URL to run against PostgreSQL'

export interface TestDatabase {
  backend: Backend
  db: Database
  /** For PostgreSQL: a URL whose connections use this test's own schema. */
  url?: string
  /** Closes the connection and removes the data. */
  drop(): Promise<void>
  /** Removes the data only (for when a server already closed the connection). */
  dropData(): Promise<void>
}

/**
 * A fresh, empty database: a new schema in DATABASE_URL (so test files never see each other's
 * rows), or an in-memory PGlite.
 */
export async function createTestDatabase(backend: Backend = DEFAULT_BACKEND): Promise<TestDatabase> {
  if (backend === 'pglite') {
    const db = connectDatabase({ kind: 'pglite-memory' })
    return { backend, db, drop: () => db.destroy(), dropData: async () => {} }
  }
  const { url, dropSchema } = await createTestSchema()
  const db = connectDatabase({ kind: 'postgres', url })
  return {
    backend, db, url,
    dropData: dropSchema,
    drop: async () => {
      await db.destroy()
      await dropSchema()
    },
  }
}

/** A new schema in DATABASE_URL and a URL that selects it through the search_path. */
export async function createTestSchema(): Promise<{ url: string; schema: string; dropSchema(): Promise<void> }> {
  const base = process.env.DATABASE_URL
  if (!base) throw new Error('DATABASE_URL is not set')
  const schema = `test_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: base })
  await admin.connect()
  await admin.query(`create schema ${schema}`)
  await admin.end()
  const url = new URL(base)
  url.searchParams.set('options', `-c search_path=${schema}`)
  return {
    url: url.href,
    schema,
    dropSchema: async () => {
      const client = new pg.Client({ connectionString: base })
      await client.connect()
      await client.query(`drop schema if exists ${schema} cascade`)
      await client.end()
    },
  }
}
