import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { sql } from 'kysely'
import { connectDatabase } from '../../src/db/connect.ts'
import { migrateToLatest, migrationsCurrent, MigrationError } from '../../src/db/migrator.ts'
import { migrations } from '../../migrations/index.ts'
import { BACKENDS, createTestDatabase, createTestSchema, NEEDS_POSTGRES } from '../helpers/db.ts'

for (const backend of BACKENDS) {
  describe(`migrations on ${backend}`, () => {
    it('apply once, in order; a second run has nothing to do', async () => {
      const { db, drop } = await createTestDatabase(backend)
      try {
        assert.deepEqual((await migrateToLatest(db)).applied, migrations.map((m) => m.name))
        assert.deepEqual((await migrateToLatest(db)).applied, [])
        assert.equal(await migrationsCurrent(db), true)
        const tables = await db.introspection.getTables()
        for (const t of ['oidc_payload', 'signing_key', 'server_secret']) assert.ok(tables.some((x) => x.name === t), t)
      } finally {
        await drop()
      }
    })

    it('roll back entirely when one fails, and say which', async () => {
      const { db, drop } = await createTestDatabase(backend)
      try {
        const broken = [
          { name: '2026-01-01T00-00-00-good', up: async (d: any) => { await sql`create table good_one (id int)`.execute(d) } },
          { name: '2026-01-02T00-00-00-bad', up: async (d: any) => { await sql`select * from missing_table`.execute(d) } },
        ]
        await assert.rejects(migrateToLatest(db, broken), (err: Error) => err instanceof MigrationError && /2026-01-02T00-00-00-bad failed/.test(err.message))
        const tables = await db.introspection.getTables()
        assert.ok(!tables.some((t) => t.name === 'good_one'), 'nothing of the failed run stays')
      } finally {
        await drop()
      }
    })

    it('refuse a database migrated by a newer version', async () => {
      const { db, drop } = await createTestDatabase(backend)
      try {
        await migrateToLatest(db)
        await assert.rejects(migrateToLatest(db, migrations.slice(0, 0)), /migrations this version does not know/)
      } finally {
        await drop()
      }
    })
  })
}

describe('instances starting together', { skip: NEEDS_POSTGRES }, () => {
  it('migrate once under the advisory lock', async () => {
    const { url, dropSchema } = await createTestSchema()
    const dbs = [1, 2, 3, 4].map(() => connectDatabase({ kind: 'postgres', url }))
    try {
      const reports = await Promise.all(dbs.map((db) => migrateToLatest(db)))
      const applied = reports.flatMap((r) => r.applied)
      assert.deepEqual(applied, migrations.map((m) => m.name), 'each migration applied by exactly one instance')
      const rows = await dbs[0]!.selectFrom('postcert_migration').selectAll().execute()
      assert.equal(rows.length, migrations.length)
    } finally {
      await Promise.all(dbs.map((db) => db.destroy()))
      await dropSchema()
    }
  })
})
