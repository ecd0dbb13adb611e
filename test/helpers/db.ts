import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { sql } from 'kysely'
import { connectDatabase } from '../../src/db/connect.ts'
import { migrateToLatest } from '../../src/db/migrator.ts'
import { migrations } from '../../migrations/index.ts'
import type { Database } from '../../src/db/database.ts'

export type Backend = 'pglite' | 'postgres'

/** The backends to run database tests on: the embedded one always, PostgreSQL when DATABASE_URL is set. */
export const BACKENDS: Backend[] = process.env.DATABASE_URL ? ['pglite', 'postgres'] : ['pglite']

/** The default backend for tests that need one database: PostgreSQL when available. */
export const DEFAULT_BACKEND: Backend = process.env.DATABASE_URL ? 'postgres' : 'pglite'

export const NEEDS_POSTGRES = process.env.DATABASE_URL ? false : 'set DATABASE_URL to run against PostgreSQL'

export interface TestDatabase {
  backend: Backend
  /** The server's connection: on PostgreSQL as the limited role SERVER_ROLE, as production runs. */
  db: Database
  /** On PostgreSQL: the tables' owner, which runs migrations (DATABASE_OWNER_URL). */
  ownerDb?: Database
  /** For PostgreSQL: a URL whose connections use this test's own schema, as the server's role. */
  url?: string
  /** For PostgreSQL: the same schema as the owner. */
  ownerUrl?: string
  /** For a PostCert process on this database: DATABASE_URL and DATABASE_OWNER_URL (empty on PGlite). */
  env: Record<string, string>
  /** Closes the connection and removes the data. */
  drop(): Promise<void>
  /** Removes the data only (for when a server already closed the connection). */
  dropData(): Promise<void>
}

/**
 * The role PostCert's server runs as in the tests on PostgreSQL: it may read and write rows and
 * nothing else (the grants migrations give it); DATABASE_URL's own role owns the tables.
 */
export const SERVER_ROLE = 'postcert_test_server'

/**
 * A fresh, empty database: a new schema in DATABASE_URL (so test files never see each other's
 * rows), or an in-memory PGlite.
 */
export async function createTestDatabase(backend: Backend = DEFAULT_BACKEND): Promise<TestDatabase> {
  if (backend === 'pglite') {
    const db = connectDatabase({ kind: 'pglite-memory' })
    return { backend, db, env: {}, drop: () => db.destroy(), dropData: async () => {} }
  }
  const { url, ownerUrl, env, dropSchema } = await createTestSchema()
  const db = connectDatabase({ kind: 'postgres', url })
  const ownerDb = connectDatabase({ kind: 'postgres', url: ownerUrl })
  return {
    backend, db, ownerDb, url, ownerUrl, env,
    dropData: async () => {
      await ownerDb.destroy()
      await dropSchema()
    },
    drop: async () => {
      await db.destroy()
      await ownerDb.destroy()
      await dropSchema()
    },
  }
}

/**
 * A TestDatabase over a schema `createTestSchema` made, for a context in a benchmark's own process
 * beside a server process on the same schema: dropping it is the caller's (`dropSchema`).
 */
export function schemaDatabase(schema: Awaited<ReturnType<typeof createTestSchema>>): TestDatabase {
  return {
    backend: 'postgres', db: connectDatabase({ kind: 'postgres', url: schema.url }), ownerDb: connectDatabase({ kind: 'postgres', url: schema.ownerUrl }),
    url: schema.url, env: schema.env, drop: async () => {}, dropData: async () => {},
  }
}

/** Migrates a test database as PostCert does: as the owner, granting the server's role (migrator.ts). */
export async function migrateTestDatabase(database: TestDatabase): Promise<void> {
  await migrateToLatest(database.ownerDb ?? database.db, migrations, { grantTo: database.ownerDb ? SERVER_ROLE : undefined })
}

/**
 * A new schema in DATABASE_URL, and URLs that select it through the search_path: `ownerUrl` as
 * DATABASE_URL's role (the owner, which migrates), `url` as SERVER_ROLE; `env` gives a PostCert
 * process both.
 */
export async function createTestSchema(): Promise<{ url: string; ownerUrl: string; env: Record<string, string>; schema: string; dropSchema(): Promise<void> }> {
  const base = process.env.DATABASE_URL
  if (!base) throw new Error('DATABASE_URL is not set')
  const schema = `test_${randomBytes(6).toString('hex')}`
  const admin = new pg.Client({ connectionString: base })
  await admin.connect()
  await admin.query(`create schema ${schema}`)
  // Once per cluster; test files starting together may race to create it.
  await admin.query(`do $$ begin create role ${SERVER_ROLE} login; exception when duplicate_object or unique_violation then null; end $$`)
  await admin.end()
  const owner = new URL(base)
  owner.searchParams.set('options', `-c search_path=${schema}`)
  const server = new URL(owner.href)
  server.username = SERVER_ROLE
  server.password = ''
  return {
    url: server.href,
    ownerUrl: owner.href,
    env: { DATABASE_URL: server.href, DATABASE_OWNER_URL: owner.href },
    schema,
    dropSchema: async () => {
      const client = new pg.Client({ connectionString: base })
      await client.connect()
      await client.query(`drop schema if exists ${schema} cascade`)
      await client.end()
    },
  }
}

/**
 * Fills the token table (as its owner) with `perModel` live rows of each model (ids `filled-<n>`;
 * the tokens each of a grant) and analyzes it: PostgreSQL chooses its plans by the rows and
 * statistics of a busy server, not by those of an empty test table. Returns what deletes them.
 */
export async function fillTokenTable(ownerDb: Database, models: readonly string[], perModel = 20_000): Promise<() => Promise<void>> {
  await sql`insert into oidc_payload (model, id, payload, grant_id, expires_at)
    select m, 'filled-' || i, '{}', case when m = 'Grant' then null else 'filled-' || i end, now() + interval '1 hour'
    from generate_series(1, ${perModel}::int) i, unnest(${[...models]}::text[]) m`.execute(ownerDb)
  await sql`analyze oidc_payload`.execute(ownerDb)
  return async () => { await sql`delete from oidc_payload where id like 'filled-%'`.execute(ownerDb) }
}
