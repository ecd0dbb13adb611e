import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { sql } from 'kysely'
import { connectDatabase } from '../../src/db/connect.ts'
import { migrateToLatest, migrationsCurrent, MigrationError } from '../../src/db/migrator.ts'
import { migrations } from '../../migrations/index.ts'
import { BACKENDS, createTestDatabase, createTestSchema, NEEDS_POSTGRES, type TestDatabase } from '../helpers/db.ts'

/** Migrations run as the tables' owner. */
const asOwner = (database: TestDatabase) => ({ db: database.ownerDb ?? database.db, drop: database.drop })

for (const backend of BACKENDS) {
  describe(`migrations on ${backend}`, () => {
    it('apply once, in order; a second run has nothing to do', async () => {
      const { db, drop } = asOwner(await createTestDatabase(backend))
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
      const { db, drop } = asOwner(await createTestDatabase(backend))
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

    it('bind the rows of logins written before status governance to their certificate', async () => {
      const { db, drop } = asOwner(await createTestDatabase(backend))
      try {
        const before = migrations.findIndex((m) => m.name === '2026-12-06T00-00-00-status-governs')
        await migrateToLatest(db, migrations.slice(0, before))
        const now = new Date()
        const later = new Date(now.getTime() + 86_400_000)
        await sql`insert into ca_certificate (id, role, der, subject, not_before, not_after, active) values ('ca', 'issuing', '\\x01', 'CN=ca', ${now}, ${later}, false)`.execute(db)
        await sql`insert into certificate (serial, subscriber_id, holder, issuer_id, der, subject, spki_sha256, not_before, not_after, status)
          values ('abc', 'ps_1', 'file', 'ca', '\\x01', 'CN=t', 'x', ${now}, ${later}, 'good')`.execute(db)
        await sql`insert into login_session (session_uid, auth_time, certificate_serial, expires_at) values ('s1', 1764000000, 'abc', ${later})`.execute(db)
        // As the adapter wrote them before: no certificate column yet.
        const rows: [string, string, Record<string, unknown>, string | null][] = [
          ['RefreshToken', 'rt', { sessionUid: 's1', authTime: 1764000000 }, 'abc'],
          ['AccessToken', 'at', { sessionUid: 's1', extra: { auth_time: 1764000000 } }, 'abc'],
          ['AuthorizationCode', 'code', { sessionUid: 's1', authTime: 1764000000 }, 'abc'],
          ['Session', 'session', { uid: 's1', accountId: 'ps_1', loginTs: 1764000000 }, 'abc'],
          ['Interaction', 'interaction', { result: { login: { certificateSerial: 'abc' } } }, 'abc'],
          ['RefreshToken', 'unknown', { sessionUid: 'elsewhere', authTime: 1764000000 }, ''],
          ['AccessToken', 'cc', { gty: 'client_credentials', clientId: 'c' }, null],
          ['Session', 'anonymous', { uid: 's2' }, null],
        ]
        for (const [model, id, payload] of rows) {
          await sql`insert into oidc_payload (model, id, payload, expires_at) values (${model}, ${id}, ${JSON.stringify(payload)}, ${later})`.execute(db)
        }
        await migrateToLatest(db)
        for (const [model, id, , serial] of rows) {
          const row = await db.selectFrom('oidc_payload').select('certificate_serial').where('model', '=', model).where('id', '=', id).executeTakeFirstOrThrow()
          assert.equal(row.certificate_serial, serial, `${model} ${id}`)
        }
      } finally {
        await drop()
      }
    })

    it('keep ES256 for the clients stored before RS256 became the default, and nothing else changes', async () => {
      const { db, drop } = asOwner(await createTestDatabase(backend))
      try {
        const before = migrations.findIndex((m) => m.name === '2026-12-06T06-00-00-id-token-alg')
        await migrateToLatest(db, migrations.slice(0, before))
        const later = new Date(Date.now() + 86_400_000)
        const stored: [string, string, Record<string, unknown>][] = [
          ['Client', 'static', { client_id: 'static', redirect_uris: ['https://a.example/cb'], sealed_client_secret: 'v1.x' }],
          ['Client', 'chose', { client_id: 'chose', id_token_signed_response_alg: 'PS256' }],
          ['Session', 'other', { uid: 's' }],
        ]
        for (const [model, id, payload] of stored) {
          await sql`insert into oidc_payload (model, id, payload, expires_at) values (${model}, ${id}, ${JSON.stringify(payload)}, ${later})`.execute(db)
        }
        await migrateToLatest(db)
        const after = async (model: string, id: string) => JSON.parse((await db.selectFrom('oidc_payload').select('payload').where('model', '=', model).where('id', '=', id).executeTakeFirstOrThrow()).payload)
        assert.deepEqual(await after('Client', 'static'), { ...stored[0]![2], id_token_signed_response_alg: 'ES256' })
        assert.deepEqual(await after('Client', 'chose'), stored[1]![2])
        assert.deepEqual(await after('Session', 'other'), stored[2]![2])
      } finally {
        await drop()
      }
    })

    it('refuse a database migrated by a newer version', async () => {
      const { db, drop } = asOwner(await createTestDatabase(backend))
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
    const { ownerUrl, dropSchema } = await createTestSchema()
    const dbs = [1, 2, 3, 4].map(() => connectDatabase({ kind: 'postgres', url: ownerUrl }))
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
