import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { AsyncLocalStorage } from 'node:async_hooks'
import { randomBytes } from 'node:crypto'
import { connectDatabase } from '../../src/db/connect.ts'
import { SealedBox } from '../../src/keys/sealed-box.ts'
import { CompiledQuery, sql } from 'kysely'
import { groupedExchanges, groupedUpserts, OIDC_MODELS, PostgresAdapter, settleRequest, storageKey, storageKeySql, sweepExpired, tokenLookup } from '../../src/oidc/adapter.ts'
import { RequestRows, writeAlong } from '../../src/db/request-rows.ts'
import type { AdapterPayload } from 'oidc-provider'
import { ManualClock } from '../../src/util/clock.ts'
import { TtlCache } from '../../src/util/ttl-cache.ts'
import { BACKENDS, createTestDatabase, fillTokenTable, migrateTestDatabase, type TestDatabase } from '../helpers/db.ts'

const GRANTABLE = ['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode']
const id = () => randomBytes(16).toString('base64url')

/** The real database, with `counted` called for each statement it is sent (a promise it returns holds the statement until it settles). */
function counting(db: TestDatabase['db'], counted: () => Promise<void> | void): TestDatabase['db'] {
  return new Proxy(db, {
    get(target, prop) {
      if (prop === 'executeQuery') {
        return (query: CompiledQuery) => {
          const held = counted()
          return held ? held.then(() => target.executeQuery(query)) : target.executeQuery(query)
        }
      }
      const value = Reflect.get(target, prop) as unknown
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  })
}

/** The real database, every statement held until `release` (to keep statements in flight); `statements` counts those sent. */
function holding(db: TestDatabase['db']): { db: TestDatabase['db']; statements: () => number; release: () => void } {
  let sent = 0
  let held = true
  const gates: (() => void)[] = []
  return {
    db: counting(db, () => {
      sent++
      return held ? new Promise<void>((resolve) => gates.push(resolve)) : undefined
    }),
    statements: () => sent,
    release: () => {
      held = false
      for (const open of gates) open()
    },
  }
}

for (const backend of BACKENDS) {
  describe(`oidc adapter contract on ${backend}`, () => {
    let database: TestDatabase
    const clock = new ManualClock(new Date('2026-11-25T00:00:00Z'))
    const box = new SealedBox(randomBytes(32))
    const adapter = (model: string) => new PostgresAdapter(model, { db: database.db, box, clock })

    before(async () => {
      database = await createTestDatabase(backend)
      await migrateTestDatabase(database)
    })
    after(async () => { await database.drop() })

    it('looks a token up as an access token, a client-credentials token and a refresh token in one statement, as introspection does', async () => {
      let statements = 0
      // The real database, its statements counted.
      const counted = counting(database.db, () => { statements++ })
      const deps = { db: counted, box, clock, tokens: tokenLookup(counted, clock) }
      const [access, credentials, refresh] = ['AccessToken', 'ClientCredentials', 'RefreshToken'].map((model) => new PostgresAdapter(model, deps)) as [PostgresAdapter, PostgresAdapter, PostgresAdapter]
      const key = id()
      await credentials.upsert(key, { jti: key, kind: 'ClientCredentials', clientId: 'bank' } as never, 60)
      statements = 0
      const found = await Promise.all([access.find(key), credentials.find(key), refresh.find(key)])
      assert.equal(statements, 1)
      assert.deepEqual(found.map((f) => f?.kind), [undefined, 'ClientCredentials', undefined])
      // Finds in separate turns are statements of their own, each for its own model.
      statements = 0
      assert.equal(await access.find(key), undefined)
      assert.equal((await credentials.find(key))?.kind, 'ClientCredentials')
      assert.equal(statements, 2)
      // Liveness is the adapter's: an expired token is not found as any kind.
      clock.advance(61)
      assert.deepEqual(await Promise.all([access.find(key), credentials.find(key), refresh.find(key)]), [undefined, undefined, undefined])
    })

    it('looks up the tokens of concurrent requests in fewer statements: while one is in flight, the finds that come go in the next one, each answered with its own row', async () => {
      const { db: gated, statements, release } = holding(database.db)
      const deps = { db: gated, box, clock, tokens: tokenLookup(gated, clock) }
      const [refreshes, accesses] = [new PostgresAdapter('RefreshToken', deps), new PostgresAdapter('AccessToken', deps)]
      const keys = Array.from({ length: 6 }, () => id())
      for (const [i, key] of keys.entries()) await adapter('RefreshToken').upsert(key, { jti: key, n: i } as never, 60)
      const access = id()
      await adapter('AccessToken').upsert(access, { jti: access, n: 'access' } as never, 60)
      // Each find in a turn of its own, as concurrent requests make them.
      const finds: Promise<AdapterPayload | undefined>[] = []
      for (const key of keys) {
        finds.push(refreshes.find(key))
        await new Promise((resolve) => setImmediate(resolve))
      }
      finds.push(accesses.find(access), accesses.find(keys[0]!), refreshes.find(id()))
      await new Promise((resolve) => setImmediate(resolve))
      assert.equal(statements(), 1, 'one in flight; the other finds wait')
      release()
      const found = await Promise.all(finds)
      assert.equal(statements(), 2, 'the eight that waited went in one statement')
      assert.deepEqual(found.map((f) => f?.n), [0, 1, 2, 3, 4, 5, 'access', undefined, undefined], 'each its own row, of the kind it asked for, and nothing for an unknown token')
    })

    it('a token looked up as one kind gets a generic plan after five lookups on a connection, not a plan at every lookup (PostgreSQL)', { skip: backend !== 'postgres' && 'PGlite prepares no named statements' }, async () => {
      // One connection, so that its prepared statements can be read back on it.
      const single = connectDatabase({ kind: 'postgres', url: database.url!, poolSize: 1 })
      // As many tokens and grants as a busy server holds, and their statistics (with a few rows, a
      // list parameter is planned generically too).
      const emptied = await fillTokenTable(database.ownerDb!, ['Grant', 'RefreshToken', 'AccessToken'])
      try {
        const key = id()
        await adapter('RefreshToken').upsert(key, { jti: key } as never, 60)
        const refreshes = new PostgresAdapter('RefreshToken', { db: single, box, clock, tokens: tokenLookup(single, clock) })
        for (let i = 0; i < 8; i++) assert.ok(await refreshes.find(key))
        const { rows } = await single.executeQuery<{ statement: string; generic_plans: string; custom_plans: string }>(
          CompiledQuery.raw('select statement, generic_plans, custom_plans from pg_prepared_statements'))
        const lookups = rows.filter((row) => row.statement.startsWith('select p.model, p.id as token_key'))
        assert.equal(lookups.length, 1, 'one statement, prepared')
        assert.deepEqual([Number(lookups[0]!.custom_plans), Number(lookups[0]!.generic_plans)], [5, 3], 'planned for the first five, then a generic plan')
      } finally {
        await single.destroy()
        await emptied()
      }
    })

    it('writes tokens as group commit: while one statement is in flight, the writes that come go together in the next one', async () => {
      const { db: gated, statements, release } = holding(database.db)
      const credentials = new PostgresAdapter('ClientCredentials', { db: gated, box, clock, upserts: groupedUpserts(gated) })
      const keys = Array.from({ length: 8 }, id)
      // Each write in a turn of its own, as concurrent requests make them.
      const writes: Promise<void>[] = []
      for (const [i, key] of keys.entries()) {
        writes.push(credentials.upsert(key, { jti: key, kind: 'ClientCredentials', clientId: `bank-${i}` } as never, 60))
        await new Promise((resolve) => setImmediate(resolve))
      }
      assert.equal(statements(), 1, 'one in flight; the other writes wait')
      release()
      await Promise.all(writes)
      assert.equal(statements(), 2, 'the seven that waited went in one statement')
      const found = await Promise.all(keys.map((key) => adapter('ClientCredentials').find(key)))
      assert.deepEqual(found.map((f) => f?.clientId), keys.map((_, i) => `bank-${i}`))
    })

    it('writes the tokens of concurrent requests in fewer statements, each row as if alone, a row written twice in two, a failing row failing alone', async () => {
      let statements = 0
      const counted = counting(database.db, () => { statements++ })
      const deps = { db: counted, box, clock, upserts: groupedUpserts(counted) }
      const [credentials, access] = ['ClientCredentials', 'AccessToken'].map((model) => new PostgresAdapter(model, deps)) as [PostgresAdapter, PostgresAdapter]
      const keys = Array.from({ length: 40 }, id)
      await Promise.all(keys.map((key, i) => (i % 2 ? access : credentials).upsert(key, { jti: key, kind: i % 2 ? 'AccessToken' : 'ClientCredentials', clientId: `bank-${i}` } as never, 60)))
      assert.ok(statements < keys.length / 2, `${statements} statements for ${keys.length} tokens`)
      const found = await Promise.all(keys.map((key, i) => (i % 2 ? access : credentials).find(key)))
      assert.deepEqual(found.map((f) => f?.clientId), keys.map((_, i) => `bank-${i}`))

      // The same token written twice at once, in one burst with others: both writes are made (never in one statement, which PostgreSQL refuses).
      const twice = id()
      const burst = Array.from({ length: 6 }, id)
      await Promise.all([...burst, twice, twice].map((key, i) => credentials.upsert(key, { jti: key, kind: 'ClientCredentials', clientId: `burst-${i}` } as never, 60)))
      assert.ok(['burst-6', 'burst-7'].includes(String((await credentials.find(twice))?.clientId)))

      // A row that fails (here: an auth time that is no number, for a login's session) fails its own write only,
      // also when it went in one statement with others (the first write goes alone, the rest together).
      const upserts = groupedUpserts(database.db)
      const row = (key: string, authTime: unknown) => ['AccessToken', storageKey('AccessToken', key), JSON.stringify({ kind: 'AccessToken' }), null, null, null, null, new Date(clock.now().getTime() + 60_000), null, 'sess-uid', authTime]
      const written = Array.from({ length: 10 }, id)
      const results = await Promise.allSettled(written.map((key, i) => upserts.write({ rows: [row(key, i === 6 ? 'not a number' : i)] })))
      assert.deepEqual(results.map((r) => r.status), written.map((_, i) => (i === 6 ? 'rejected' : 'fulfilled')))
      const stored = await database.db.selectFrom('oidc_payload').select('id').where('model', '=', 'AccessToken').where('id', 'in', written.map((k) => storageKey('AccessToken', k))).execute()
      assert.equal(stored.length, 9)
    })

    for (const model of OIDC_MODELS) {
      describe(model, () => {
        it('finds what it upserted, and an update replaces it', async () => {
          const a = adapter(model)
          const key = id()
          const payload = model === 'Client' ? { client_id: key, client_name: 'one' } : { jti: key, kind: model, iat: 1, exp: 2, grantId: 'g', extra: { n: 1 } }
          await a.upsert(key, payload as never, 60)
          const found = await a.find(key)
          if (model === 'ReplayDetection') {
            // find() on ReplayDetection reports what was stored as "already seen"
            assert.ok(found)
            return
          }
          assert.deepEqual(found, payload)
          await a.upsert(key, { ...payload, changed: true } as never, 60)
          assert.equal((await a.find(key))?.changed, true)
        })

        it('never returns an expired row', async () => {
          const a = adapter(model)
          const key = id()
          await a.upsert(key, { jti: key, client_id: key } as never, 10)
          clock.advance(9)
          assert.ok(await a.find(key))
          clock.advance(2)
          // (for ReplayDetection: an expired id is free again, and the first find claims it)
          assert.equal(await a.find(key), undefined)
          if (model === 'ReplayDetection') assert.ok(await a.find(key), 'the claim holds for the next use')
        })

        if (model !== 'ReplayDetection') it('keeps a row without expiry until destroyed', async () => {
          const a = adapter(model)
          const key = id()
          await a.upsert(key, { jti: key, client_id: key } as never, 0)
          clock.advance(10 * 365 * 86400)
          assert.ok(await a.find(key))
          await a.destroy(key)
          assert.equal(await a.find(key), undefined)
        })

        if (model !== 'ReplayDetection' && model !== 'Client') it('marks a consumed row with the consumption time', async () => {
          const a = adapter(model)
          const key = id()
          await a.upsert(key, { jti: key } as never, 60)
          assert.equal((await a.find(key))?.consumed, undefined)
          await a.consume(key)
          assert.equal((await a.find(key))?.consumed, Math.floor(clock.now().getTime() / 1000))
        })

        if (model === 'AuthorizationCode') it('consumes a row once: of callers racing on it, exactly one succeeds', async () => {
          const a = adapter(model)
          const key = id()
          await a.upsert(key, { jti: key } as never, 60)
          const results = await Promise.all([a.consumeOnce(key), a.consumeOnce(key), a.consumeOnce(key)])
          assert.deepEqual(results.filter(Boolean).length, 1)
          assert.equal((await a.find(key))?.consumed, Math.floor(clock.now().getTime() / 1000))
          assert.equal(await a.consumeOnce(id()), false, 'an unknown id is not consumed')
        })

        it('destroys one row and leaves the others', async () => {
          const a = adapter(model)
          const [one, two] = [id(), id()]
          await a.upsert(one, { jti: one, client_id: one } as never, 60)
          await a.upsert(two, { jti: two, client_id: two } as never, 60)
          await a.destroy(one)
          if (model !== 'ReplayDetection') assert.equal(await a.find(one), undefined)
          assert.ok(await a.find(two))
        })

        if (GRANTABLE.includes(model)) {
          it('revokes every row of a grant and nothing else', async () => {
            const a = adapter(model)
            const [g1, g2] = [id(), id()]
            const rows = [[id(), g1], [id(), g1], [id(), g2]] as const
            for (const [key, grantId] of rows) await a.upsert(key, { jti: key, grantId } as never, 60)
            const otherModel = adapter(model === 'AccessToken' ? 'RefreshToken' : 'AccessToken')
            const other = id()
            await otherModel.upsert(other, { jti: other, grantId: g1 } as never, 60)
            await a.revokeByGrantId(g1)
            assert.equal(await a.find(rows[0][0]), undefined)
            assert.equal(await a.find(rows[1][0]), undefined)
            assert.ok(await a.find(rows[2][0]))
            assert.ok(await otherModel.find(other), 'another model keeps its rows of the same grant')
          })
        }
      })
    }

    it('Session: finds by uid, not after expiry', async () => {
      const a = adapter('Session')
      const [key, uid] = [id(), id()]
      await a.upsert(key, { jti: key, uid, state: { x: 1 } } as never, 30)
      assert.deepEqual(await a.findByUid(uid), { jti: key, uid, state: { x: 1 } })
      assert.equal(await a.findByUid('nope'), undefined)
      clock.advance(31)
      assert.equal(await a.findByUid(uid), undefined)
    })

    /** A certificate row as the CA leaves it, and a login made with it (login_session). */
    async function certificateLogin(status: 'good' | 'revoked' | 'hold' = 'good', notAfter = new Date(clock.now().getTime() + 86_400_000)) {
      const serial = randomBytes(8).toString('hex')
      const now = clock.now()
      await database.db.insertInto('ca_certificate').values({ id: `ca-${serial}`, role: 'issuing', der: new Uint8Array([1]), sealed_key: null, subject: 'CN=t', not_before: now, not_after: notAfter, active: false }).execute()
      await database.db.insertInto('certificate').values({
        serial, subscriber_id: 'ps_1', holder: 'file', issuer_id: `ca-${serial}`, der: new Uint8Array([1]), subject: 'CN=t', spki_sha256: 'x',
        not_before: now, not_after: notAfter, status, revoked_at: null, revocation_reason: null, replaced_by: null, status_changed_at: null,
      }).execute()
      const login = { sessionUid: id(), authTime: 1_764_000_000 }
      await database.db.insertInto('login_session').values({ session_uid: login.sessionUid, auth_time: login.authTime, certificate_serial: serial, client_id: 'bank', expires_at: notAfter }).execute()
      return { serial, login }
    }
    const setStatus = (serial: string, status: 'good' | 'revoked' | 'hold') => database.db.updateTable('certificate').set({ status }).where('serial', '=', serial).execute()

    describe('rows of a certificate login', () => {
      it('are found while the certificate is good, and never once it is revoked, suspended or expired', async () => {
        const { serial, login } = await certificateLogin()
        const rows = {
          Session: { uid: login.sessionUid, accountId: 'ps_1', loginTs: login.authTime },
          AuthorizationCode: { sessionUid: login.sessionUid, authTime: login.authTime, accountId: 'ps_1' },
          RefreshToken: { sessionUid: login.sessionUid, authTime: login.authTime, accountId: 'ps_1' },
          AccessToken: { sessionUid: login.sessionUid, extra: { auth_time: login.authTime }, accountId: 'ps_1' },
          Interaction: { result: { login: { accountId: 'ps_1', certificateSerial: serial } } },
        }
        const keys = new Map<string, string>()
        for (const [model, payload] of Object.entries(rows)) {
          const key = id()
          keys.set(model, key)
          await adapter(model).upsert(key, { jti: key, ...payload } as never, 3600)
        }
        const stored = await database.db.selectFrom('oidc_payload').select('certificate_serial').where('certificate_serial', '=', serial).execute()
        assert.equal(stored.length, 5, 'each row knows its certificate')
        const found = async () => Promise.all([...keys].map(async ([model, key]) => Boolean(await adapter(model).find(key))))
        assert.deepEqual(await found(), [true, true, true, true, true])
        assert.ok(await adapter('Session').findByUid(login.sessionUid))
        for (const status of ['hold', 'revoked'] as const) {
          await setStatus(serial, status)
          assert.deepEqual(await found(), [false, false, false, false, false], status)
          assert.equal(await adapter('Session').findByUid(login.sessionUid), undefined, status)
        }
        await setStatus(serial, 'good')
        assert.deepEqual(await found(), [true, true, true, true, true], 'the status alone decides (a status change also deletes them)')
        clock.advance(86_400)
        assert.deepEqual(await found(), [false, false, false, false, false], 'expired')
      })

      it('a row of a login that is unknown or ended is never found, and a code or token of one is refused when written (fail closed)', async () => {
        const { serial, login } = await certificateLogin()
        const session = id()
        await adapter('Session').upsert(session, { jti: session, uid: id(), accountId: 'ps_1', loginTs: login.authTime } as never, 3600)
        assert.equal(await adapter('Session').find(session), undefined, 'a session of an unknown login')
        const refused = async (model: string, payload: Record<string, unknown>, error: string) => {
          const key = id()
          await assert.rejects(adapter(model).upsert(key, { jti: key, ...payload } as never, 3600), (err: { error?: string }) => err.error === error, model)
          assert.equal(await adapter(model).find(key), undefined)
        }
        await refused('RefreshToken', { sessionUid: id(), authTime: login.authTime }, 'invalid_grant')
        await refused('AccessToken', { sessionUid: login.sessionUid }, 'invalid_grant')
        await database.db.updateTable('login_session').set({ ended_at: clock.now() }).where('session_uid', '=', login.sessionUid).execute()
        await refused('RefreshToken', { sessionUid: login.sessionUid, authTime: login.authTime }, 'invalid_grant')
        await refused('AuthorizationCode', { sessionUid: login.sessionUid, authTime: login.authTime }, 'access_denied')
        // An interaction names its certificate itself, also once its login is only the last submission.
        const consent = id()
        await adapter('Interaction').upsert(consent, { jti: consent, lastSubmission: { login: { accountId: 'ps_1', certificateSerial: serial } } } as never, 600)
        const row = await database.db.selectFrom('oidc_payload').select('certificate_serial').where('id', '=', storageKey('Interaction', consent)).executeTakeFirstOrThrow()
        assert.equal(row.certificate_serial, serial)
      })

      it('rows of no login (client credentials, clients, grants) are not governed', async () => {
        const key = id()
        await adapter('AccessToken').upsert(key, { jti: key, gty: 'client_credentials', clientId: 'c' } as never, 3600)
        assert.ok(await adapter('AccessToken').find(key))
        assert.equal((await database.db.selectFrom('oidc_payload').select('certificate_serial').where('id', '=', storageKey('AccessToken', key)).executeTakeFirstOrThrow()).certificate_serial, null)
      })
    })

    it('Session: a sealed id moved to another row does not open, even after it was found once', async () => {
      const a = adapter('Session')
      const [one, two] = [id(), id()]
      await a.upsert(one, { jti: one, uid: 'uid-one' } as never, 60)
      await a.upsert(two, { jti: two, uid: 'uid-two' } as never, 60)
      assert.equal((await a.findByUid('uid-one'))?.jti, one)
      const sealed = (await database.db.selectFrom('oidc_payload').select('sealed_id').where('uid', '=', 'uid-one').executeTakeFirstOrThrow()).sealed_id
      await database.db.updateTable('oidc_payload').set({ sealed_id: sealed }).where('uid', '=', 'uid-two').execute()
      await assert.rejects(a.findByUid('uid-two'), 'bound to the row it was sealed for')
      assert.equal((await adapter('Session').findByUid('uid-one'))?.jti, one, 'another instance opens it too')
    })

    it('DeviceCode: finds by user code, not after expiry', async () => {
      const a = adapter('DeviceCode')
      const [key, userCode] = [id(), 'BCDF-GHJK']
      await a.upsert(key, { jti: key, userCode, grantId: 'g' } as never, 30)
      assert.deepEqual(await a.findByUserCode(userCode), { jti: key, userCode, grantId: 'g' })
      clock.advance(31)
      assert.equal(await a.findByUserCode(userCode), undefined)
    })

    it('stores token ids hashed and client secrets sealed', async () => {
      const token = id()
      await adapter('AccessToken').upsert(token, { jti: token } as never, 60)
      await adapter('Client').upsert('bank', { client_id: 'bank', client_secret: 'very-secret-value' } as never, 0)
      const rows = await database.db.selectFrom('oidc_payload').select(['id', 'payload']).execute()
      const dump = JSON.stringify(rows)
      assert.ok(!dump.includes(token), 'the token value is not stored')
      assert.ok(!dump.includes('very-secret-value'), 'the client secret is not stored in clear')
      assert.equal((await adapter('Client').find('bank'))?.client_secret, 'very-secret-value')
    })

    it('ReplayDetection: of many concurrent first uses, exactly one is accepted', async () => {
      // On PostgreSQL the uses come through separate pools, as from separate instances.
      const pools = backend === 'postgres' ? [1, 2, 3].map(() => connectDatabase({ kind: 'postgres', url: database.url! })) : [database.db]
      try {
        const key = id()
        const results = await Promise.all(Array.from({ length: 12 }, (_, i) =>
          new PostgresAdapter('ReplayDetection', { db: pools[i % pools.length]!, box, clock }).find(key)))
        assert.equal(results.filter((r) => r === undefined).length, 1)
      } finally {
        if (backend === 'postgres') await Promise.all(pools.map((p) => p.destroy()))
      }
    })

    it('computes the storage key in SQL exactly as in JavaScript', async () => {
      for (const value of [id(), 'grant-1', '한국어 그랜트', 'x'.repeat(300)]) {
        const { rows: [row] } = await database.db.executeQuery<{ key: string }>(CompiledQuery.raw(`select ${storageKeySql('$1::text')} as key`, [value]))
        assert.equal(row!.key, storageKey('Grant', value))
      }
    })

    describe('within a request (RequestRows)', () => {
      // Requests as oidc-provider runs them: each in an AsyncLocalStorage of its own.
      const als = new AsyncLocalStorage<object>()
      const inRequest = <T>(work: () => Promise<T>) => als.run({}, work)
      let statements: string[] = []
      /** The provider's adapters: statements counted (first word), requests told apart. */
      const within = () => {
        const requests = new RequestRows(() => als.getStore())
        const db = new Proxy(database.db, {
          get(target, prop) {
            if (prop === 'executeQuery') return (query: CompiledQuery) => { statements.push(query.sql.trim().split(/\s+/)[0]!); return target.executeQuery(query) }
            const value = Reflect.get(target, prop) as unknown
            return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
          },
        })
        const deps = { db, box, clock, requests, tokens: tokenLookup(db, clock), exchanges: groupedExchanges(db) }
        return { requests, db, of: (model: string) => new PostgresAdapter(model, deps) }
      }
      /** A grant with a refresh token of it. */
      const chain = async () => {
        const grantId = id()
        await adapter('Grant').upsert(grantId, { jti: grantId, accountId: 'ps_1', clientId: 'bank' } as never, 3600)
        const token = id()
        await adapter('RefreshToken').upsert(token, { jti: token, grantId, clientId: 'bank' } as never, 3600)
        return { grantId, token }
      }

      it('a token found with its grant: the grant\'s find that follows reads nothing, in that request only, once', async () => {
        const { of } = within()
        const { grantId, token } = await chain()
        await inRequest(async () => {
          statements = []
          assert.equal((await of('RefreshToken').find(token))?.grantId, grantId)
          assert.equal((await of('Grant').find(grantId))?.accountId, 'ps_1')
          assert.equal(statements.length, 1, 'one statement for the token and its grant')
          assert.equal((await of('Grant').find(grantId))?.accountId, 'ps_1')
          assert.equal(statements.length, 2, 'taken once: found again, it is read again')
        })
        // Read in one request, never served in another: there it is read (and a grant revoked
        // since is not found).
        const { of: other } = within()
        await inRequest(async () => { await other('RefreshToken').find(token) })
        await adapter('Grant').destroy(grantId)
        await inRequest(async () => { assert.equal(await other('Grant').find(grantId), undefined) })
      })

      it('what a request read ahead is dropped by its next write, and an expired or revoked grant is not handed over', async () => {
        const { of } = within()
        const { grantId, token } = await chain()
        await inRequest(async () => {
          await of('RefreshToken').find(token)
          await of('Grant').upsert(grantId, { jti: grantId, accountId: 'ps_1', clientId: 'bank', changed: true } as never, 3600)
          statements = []
          assert.equal((await of('Grant').find(grantId))?.changed, true)
          assert.equal(statements.length, 1, 'read after the write')
        })
        clock.advance(3601)
        const fresh = id()
        await adapter('RefreshToken').upsert(fresh, { jti: fresh, grantId, clientId: 'bank' } as never, 3600)
        await inRequest(async () => {
          assert.ok(await of('RefreshToken').find(fresh))
          assert.equal(await of('Grant').find(grantId), undefined, 'the grant expired')
        })
      })

      it('rotates a refresh token in one statement: the new one and the access token are written with the old one\'s consumption', async () => {
        const { of } = within()
        const { grantId, token } = await chain()
        const [next, access] = [id(), id()]
        await inRequest(async () => {
          statements = []
          await of('RefreshToken').consume(token)
          assert.equal(statements.length, 0, 'held for the write of its replacement')
          await of('RefreshToken').upsert(next, { jti: next, grantId, clientId: 'bank' } as never, 3600)
          assert.equal(statements.length, 0, 'the replacement held for the access token that follows')
          await of('AccessToken').upsert(access, { jti: access, grantId, clientId: 'bank' } as never, 600)
          assert.deepEqual(statements, ['with'])
        })
        assert.equal((await adapter('RefreshToken').find(token))?.consumed, Math.floor(clock.now().getTime() / 1000))
        assert.equal((await adapter('RefreshToken').find(next))?.grantId, grantId)
        assert.equal((await adapter('AccessToken').find(access))?.grantId, grantId)
      })

      it('a replacement held when the request writes nothing more, or something else first, is made then, with the consumption', async () => {
        const { of, requests, db } = within()
        const first = await chain()
        const next = id()
        let request!: object
        await inRequest(async () => {
          request = als.getStore()!
          await of('RefreshToken').consume(first.token)
          await of('RefreshToken').upsert(next, { jti: next, grantId: first.grantId, clientId: 'bank' } as never, 3600)
        })
        assert.equal(await adapter('RefreshToken').find(next), undefined, 'held')
        assert.equal((await adapter('RefreshToken').find(first.token))?.consumed, undefined, 'held')
        statements = []
        assert.equal(await settleRequest(db, requests, request), undefined)
        assert.deepEqual(statements, ['with'], 'one statement')
        assert.ok((await adapter('RefreshToken').find(first.token))?.consumed)
        assert.ok(await adapter('RefreshToken').find(next), 'made when the request ended')
        // Another write first (a session): the consumption and the replacement go before it.
        const second = await chain()
        const [again, session] = [id(), id()]
        await inRequest(async () => {
          await of('RefreshToken').consume(second.token)
          await of('RefreshToken').upsert(again, { jti: again, grantId: second.grantId, clientId: 'bank' } as never, 3600)
          statements = []
          await of('Session').upsert(session, { jti: session, uid: id() } as never, 60)
          assert.deepEqual(statements, ['with', 'insert'])
        })
        assert.ok(await adapter('RefreshToken').find(again))
        // Written again in the same request: the last payload, one row.
        const third = await chain()
        const twice = id()
        await inRequest(async () => {
          await of('RefreshToken').consume(third.token)
          await of('RefreshToken').upsert(twice, { jti: twice, grantId: third.grantId, clientId: 'bank' } as never, 3600)
          await of('RefreshToken').upsert(twice, { jti: twice, grantId: third.grantId, clientId: 'bank', last: true } as never, 3600)
          await of('AccessToken').upsert(id(), { jti: id(), grantId: third.grantId, clientId: 'bank' } as never, 600)
        })
        assert.equal((await adapter('RefreshToken').find(twice))?.last, true)
      })

      it('rotations of concurrent requests go in fewer statements, each written with its own consumption; one token rotated twice among them, once', async () => {
        const { of } = within()
        const chains = await Promise.all(Array.from({ length: 12 }, chain))
        const rotate = (c: { grantId: string; token: string }) => inRequest(async () => {
          const [next, access] = [id(), id()]
          await of('RefreshToken').consume(c.token)
          await of('RefreshToken').upsert(next, { jti: next, grantId: c.grantId, clientId: 'bank' } as never, 3600)
          await of('AccessToken').upsert(access, { jti: access, grantId: c.grantId, clientId: 'bank' } as never, 600)
          return { next, access }
        })
        statements = []
        const rotated = await Promise.all(chains.map(rotate))
        assert.ok(statements.length < chains.length, `${statements.length} statements for ${chains.length} rotations`)
        assert.ok(statements.every((word) => word === 'with'))
        for (const [i, c] of chains.entries()) {
          assert.ok((await adapter('RefreshToken').find(c.token))?.consumed, 'the old token consumed')
          assert.equal((await adapter('RefreshToken').find(rotated[i]!.next))?.grantId, c.grantId, 'its own replacement, of its own grant')
          assert.equal((await adapter('AccessToken').find(rotated[i]!.access))?.grantId, c.grantId)
        }

        // In a burst of rotations, one token rotated by two requests: never in one statement (both would
        // get tokens); one of the two is a reuse, which ends that grant, and the others are untouched.
        const burst = await Promise.all(Array.from({ length: 6 }, chain))
        const results = await Promise.allSettled([...burst, burst[0]!].map(rotate))
        assert.deepEqual(results.slice(1, 6).map((r) => r.status), Array(5).fill('fulfilled'))
        const twice = [results[0]!, results[6]!]
        assert.deepEqual(twice.map((r) => r.status).sort(), ['fulfilled', 'rejected'])
        for (const r of twice) if (r.status === 'rejected') assert.equal((r.reason as { error?: string }).error, 'invalid_grant')
        const winner = twice.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ next: string }>
        assert.equal(await adapter('RefreshToken').find(winner.value.next), undefined, 'the reuse revoked what the grant gave')
        assert.equal(await adapter('Grant').find(burst[0]!.grantId), undefined)
        for (const [i, r] of results.slice(1, 6).entries()) assert.ok(await adapter('RefreshToken').find((r as PromiseFulfilledResult<{ next: string }>).value.next), `chain ${i + 1} rotated`)
      })

      it('of rotations of one refresh token at once, one writes its replacement; the others are a reuse that ends the grant', async () => {
        const { of, requests, db } = within()
        const { grantId, token } = await chain()
        const nexts = [id(), id(), id(), id()]
        const results = await Promise.allSettled(nexts.map((next, i) => inRequest(async () => {
          await of('RefreshToken').consume(token)
          await of('RefreshToken').upsert(next, { jti: next, grantId, clientId: 'bank' } as never, 3600)
          // One of them ends before its access token: its replacement is made as it ends.
          if (i === 3) {
            const settled = await settleRequest(db, requests, als.getStore()!)
            if (settled) throw settled
            return
          }
          await of('AccessToken').upsert(id(), { jti: id(), grantId, clientId: 'bank' } as never, 600)
        })))
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
        for (const r of results) if (r.status === 'rejected') assert.equal((r.reason as { error?: string }).error, 'invalid_grant')
        // A reuse revokes what the grant gave, the winner's new token with it, and the grant.
        assert.deepEqual(await Promise.all(nexts.map((next) => adapter('RefreshToken').find(next))), [undefined, undefined, undefined, undefined])
        assert.equal(await adapter('Grant').find(grantId), undefined)
      })

      it('an exchange in one statement: the access and refresh tokens are written with the code\'s consumption; without a refresh token, when the request ends; a second exchange writes nothing', async () => {
        const { of, requests, db } = within()
        const { grantId } = await chain()
        const code = id()
        await adapter('AuthorizationCode').upsert(code, { jti: code, grantId, clientId: 'bank' } as never, 60)
        const [access, refresh] = [id(), id()]
        await inRequest(async () => {
          statements = []
          await of('AuthorizationCode').consume(code)
          await of('AccessToken').upsert(access, { jti: access, grantId, clientId: 'bank' } as never, 60)
          assert.equal(statements.length, 0, 'the access token held for a refresh token that may follow')
          await of('RefreshToken').upsert(refresh, { jti: refresh, grantId, clientId: 'bank' } as never, 3600)
          assert.deepEqual(statements, ['with'])
        })
        assert.ok((await adapter('AuthorizationCode').find(code))?.consumed)
        assert.equal((await adapter('AccessToken').find(access))?.grantId, grantId)
        assert.equal((await adapter('RefreshToken').find(refresh))?.grantId, grantId)

        // No refresh token: the consumption and the access token are made as the request ends.
        const plain = id()
        await adapter('AuthorizationCode').upsert(plain, { jti: plain, grantId, clientId: 'bank' } as never, 60)
        const only = id()
        let request!: object
        await inRequest(async () => {
          request = als.getStore()!
          await of('AuthorizationCode').consume(plain)
          await of('AccessToken').upsert(only, { jti: only, grantId, clientId: 'bank' } as never, 60)
        })
        assert.equal(await adapter('AccessToken').find(only), undefined, 'held')
        statements = []
        assert.equal(await settleRequest(db, requests, request), undefined)
        assert.deepEqual(statements, ['with'], 'one statement')
        assert.ok((await adapter('AuthorizationCode').find(plain))?.consumed)
        assert.ok(await adapter('AccessToken').find(only))

        // The code again: a reuse, which writes nothing and revokes what the code gave.
        const second = id()
        await inRequest(async () => {
          request = als.getStore()!
          await of('AuthorizationCode').consume(plain)
          await of('AccessToken').upsert(second, { jti: second, grantId, clientId: 'bank' } as never, 60)
        })
        const settled = await settleRequest(db, requests, request)
        assert.equal(settled?.error, 'invalid_grant')
        assert.equal(settled?.error_detail, 'authorization code already used')
        assert.equal(await adapter('AccessToken').find(second), undefined, 'not written')
        assert.equal(await adapter('AccessToken').find(only), undefined, 'and what the code gave is revoked')
      })

      it('an exchange whose login ended while it ran is refused with invalid_grant, its tokens never found, with or without a refresh token', async () => {
        const { of, requests, db } = within()
        const { login } = await certificateLogin()
        const grantId = id()
        await adapter('Grant').upsert(grantId, { jti: grantId, accountId: 'ps_1', clientId: 'bank' } as never, 3600)
        const codes = [id(), id()]
        for (const code of codes) await adapter('AuthorizationCode').upsert(code, { jti: code, grantId, clientId: 'bank', sessionUid: login.sessionUid, authTime: login.authTime } as never, 60)
        const tokens = [id(), id(), id()]
        const access = { grantId, clientId: 'bank', sessionUid: login.sessionUid, extra: { auth_time: login.authTime } }
        const refresh = { grantId, clientId: 'bank', sessionUid: login.sessionUid, authTime: login.authTime }
        const ended = async () => { await database.db.updateTable('login_session').set({ ended_at: clock.now() }).where('session_uid', '=', login.sessionUid).execute() }
        // With a refresh token: refused by the write of both.
        await assert.rejects(inRequest(async () => {
          await of('AuthorizationCode').consume(codes[0]!)
          await ended()
          await of('AccessToken').upsert(tokens[0]!, { jti: tokens[0], ...access } as never, 60)
          await of('RefreshToken').upsert(tokens[1]!, { jti: tokens[1], ...refresh } as never, 3600)
        }), (err: { error?: string }) => err.error === 'invalid_grant')
        // Without: refused as the request ends.
        let request!: object
        await inRequest(async () => {
          request = als.getStore()!
          await of('AuthorizationCode').consume(codes[1]!)
          await of('AccessToken').upsert(tokens[2]!, { jti: tokens[2], ...access } as never, 60)
        })
        assert.equal((await settleRequest(db, requests, request))?.error, 'invalid_grant')
        // Stored, if at all, as rows of no certificate, which are never found (fail closed).
        assert.deepEqual(await Promise.all([adapter('AccessToken').find(tokens[0]!), adapter('RefreshToken').find(tokens[1]!), adapter('AccessToken').find(tokens[2]!)]), [undefined, undefined, undefined])
      })

      it('a code waits for the session its authorization saves: both in one statement; made alone by another write first, or as the request ends; refused when its login ended meanwhile', async () => {
        const { of, requests, db } = within()
        const { login } = await certificateLogin()
        const grantId = id()
        await adapter('Grant').upsert(grantId, { jti: grantId, accountId: 'ps_1', clientId: 'bank' } as never, 3600)
        const code = (jti: string) => ({ jti, grantId, clientId: 'bank', sessionUid: login.sessionUid, authTime: login.authTime }) as never
        const session = (jti: string) => ({ jti, uid: login.sessionUid, accountId: 'ps_1', loginTs: login.authTime }) as never
        // A request whose session oidc-provider saves as it ends (a login: new and touched).
        const authorization = <T>(work: () => Promise<T>, saved = { new: true, touched: true }) => als.run({ oidc: { session: saved } }, work)
        const [first, sessionId] = [id(), id()]
        await authorization(async () => {
          statements = []
          await of('AuthorizationCode').upsert(first, code(first), 60)
          assert.deepEqual(statements, [], 'held for the session')
          await of('Session').upsert(sessionId, session(sessionId), 3600)
          assert.deepEqual(statements, ['insert'], 'one statement')
        })
        assert.equal((await adapter('AuthorizationCode').find(first))?.grantId, grantId)
        assert.ok(await adapter('Session').find(sessionId))

        // A session that is not saved (new and untouched): the code is written at once.
        const unsaved = id()
        await authorization(async () => {
          statements = []
          await of('AuthorizationCode').upsert(unsaved, code(unsaved), 60)
          assert.deepEqual(statements, ['insert'])
        }, { new: true, touched: false })

        // Another token written first (a hybrid flow's access token) makes it first; nothing is
        // held when the request ends.
        const [second, access] = [id(), id()]
        let request!: object
        await authorization(async () => {
          request = als.getStore()!
          statements = []
          await of('AuthorizationCode').upsert(second, code(second), 60)
          await of('AccessToken').upsert(access, { jti: access, grantId, clientId: 'bank', sessionUid: login.sessionUid, extra: { auth_time: login.authTime } } as never, 60)
          assert.deepEqual(statements, ['insert', 'insert'])
        })
        assert.ok(await adapter('AuthorizationCode').find(second))
        statements = []
        assert.equal(await settleRequest(db, requests, request), undefined)
        assert.deepEqual(statements, [])

        // No write after it: made as the request ends, before its answer.
        const third = id()
        await authorization(async () => {
          request = als.getStore()!
          await of('AuthorizationCode').upsert(third, code(third), 60)
        })
        assert.equal(await adapter('AuthorizationCode').find(third), undefined, 'held')
        assert.equal(await settleRequest(db, requests, request), undefined)
        assert.ok(await adapter('AuthorizationCode').find(third), 'made when the request ended')

        // The login ended (its certificate's status changed) between the code and the session:
        // the session's write is refused with access_denied, as the code's own would be, and so
        // is the request that ends with the code held; neither code is ever found.
        const [fourth, fifth, lateSession] = [id(), id(), id()]
        await database.db.updateTable('login_session').set({ ended_at: clock.now() }).where('session_uid', '=', login.sessionUid).execute()
        await assert.rejects(authorization(async () => {
          await of('AuthorizationCode').upsert(fourth, code(fourth), 60)
          await of('Session').upsert(lateSession, session(lateSession), 3600)
        }), (err: { error?: string }) => err.error === 'access_denied')
        await authorization(async () => {
          request = als.getStore()!
          await of('AuthorizationCode').upsert(fifth, code(fifth), 60)
        })
        assert.equal((await settleRequest(db, requests, request))?.error, 'access_denied')
        assert.deepEqual(await Promise.all([adapter('AuthorizationCode').find(fourth), adapter('AuthorizationCode').find(fifth)]), [undefined, undefined])
      })

      it('a held consumption is made before a write of anything but a token, and by settleRequest when the request wrote nothing more', async () => {
        const { of, requests, db } = within()
        const first = await chain()
        const session = id()
        await inRequest(async () => {
          await of('RefreshToken').consume(first.token)
          statements = []
          await of('Session').upsert(session, { jti: session, uid: id() } as never, 60)
          assert.deepEqual(statements, ['update', 'insert'])
        })
        assert.ok((await adapter('RefreshToken').find(first.token))?.consumed)
        const second = await chain()
        let request!: object
        await inRequest(async () => {
          request = als.getStore()!
          await of('RefreshToken').consume(second.token)
        })
        assert.equal((await adapter('RefreshToken').find(second.token))?.consumed, undefined, 'held')
        assert.equal(await settleRequest(db, requests, request), undefined)
        assert.ok((await adapter('RefreshToken').find(second.token))?.consumed, 'made when the request ended')
        assert.equal(await settleRequest(db, requests, request), undefined, 'once')
        // Consumed by another request meanwhile: a reuse, answered as one.
        const third = await chain()
        await inRequest(async () => {
          request = als.getStore()!
          await of('RefreshToken').consume(third.token)
        })
        await adapter('RefreshToken').consume(third.token)
        assert.equal((await settleRequest(db, requests, request))?.error, 'invalid_grant')
        assert.equal(await adapter('Grant').find(third.grantId), undefined)
      })

      it('a token bound to its session is found with it: the session\'s find by uid that follows reads nothing; a session that ended is not found', async () => {
        const { of } = within()
        const { grantId } = await chain()
        const { login } = await certificateLogin()
        const [session, uid, token] = [id(), login.sessionUid, id()]
        await adapter('Session').upsert(session, { jti: session, uid, accountId: 'ps_1', loginTs: login.authTime } as never, 3600)
        await adapter('AccessToken').upsert(token, { jti: token, grantId, sessionUid: uid, expiresWithSession: true, extra: { auth_time: login.authTime } } as never, 60)
        await inRequest(async () => {
          statements = []
          assert.ok(await of('AccessToken').find(token))
          assert.equal((await of('Session').findByUid(uid))?.jti, session)
          assert.equal((await of('Grant').find(grantId))?.accountId, 'ps_1')
          assert.equal(statements.length, 1)
        })
        // A token not bound to its session does not read it.
        const unbound = id()
        await adapter('AccessToken').upsert(unbound, { jti: unbound, grantId, sessionUid: uid, expiresWithSession: false, extra: { auth_time: login.authTime } } as never, 60)
        await inRequest(async () => {
          assert.ok(await of('AccessToken').find(unbound))
          statements = []
          assert.equal((await of('Session').findByUid(uid))?.jti, session)
          assert.equal(statements.length, 1, 'read by itself')
        })
        // A session that ended is not found, handed over or not.
        await adapter('Session').destroy(session)
        await inRequest(async () => {
          assert.ok(await of('AccessToken').find(token))
          assert.equal(await of('Session').findByUid(uid), undefined)
        })
      })

      it('a resume reads its interaction and deletes it in one statement; its destroy is then done', async () => {
        const { of } = within()
        const interaction = id()
        await adapter('Interaction').upsert(interaction, { jti: interaction, uid: interaction } as never, 600)
        await als.run({ oidc: { route: 'resume' } }, async () => {
          statements = []
          assert.equal((await of('Interaction').find(interaction))?.uid, interaction)
          await of('Interaction').destroy(interaction)
          assert.deepEqual(statements, ['with'])
          assert.equal(await adapter('Interaction').find(interaction), undefined, 'gone')
          // Saved again (oidc-provider does when the account changed), it is there to destroy again.
          await of('Interaction').upsert(interaction, { jti: interaction, uid: interaction } as never, 600)
          await of('Interaction').destroy(interaction)
          assert.equal(await adapter('Interaction').find(interaction), undefined)
        })
        // Elsewhere an interaction is only read.
        await adapter('Interaction').upsert(interaction, { jti: interaction, uid: interaction } as never, 600)
        await als.run({ oidc: { route: 'interaction' } }, async () => { assert.ok(await of('Interaction').find(interaction)) })
        assert.ok(await adapter('Interaction').find(interaction))
      })

      it('a replay id is claimed in one statement: new or expired, it is taken; live, it is a replay', async () => {
        const { of } = within()
        const jti = id()
        statements = []
        assert.equal(await of('ReplayDetection').find(jti), undefined, 'first use')
        assert.deepEqual(statements, ['insert'])
        assert.ok(await of('ReplayDetection').find(jti), 'replayed')
        clock.advance(601)
        assert.equal(await of('ReplayDetection').find(jti), undefined, 'the reservation expired: a new use')
        assert.ok(await of('ReplayDetection').find(jti), 'and that one holds')
      })

      it('writes along go in the statement of the request\'s next write, with their own parameters; without one, when the request ends', async () => {
        const { of, requests, db } = within()
        const note = (text: string) => ({ query: database.db.insertInto('rate_limit').values({ key: text, window_start: clock.now(), count: 7 }).compile() })
        const stored = async (key: string) => (await database.db.selectFrom('rate_limit').select('count').where('key', '=', key).executeTakeFirst())?.count
        const [first, second, interaction] = [`along-${id()}`, `along-${id()}`, id()]
        await inRequest(async () => {
          statements = []
          await writeAlong(requests, db, note(first))
          await writeAlong(requests, db, note(second))
          assert.deepEqual(statements, [], 'held')
          await of('Interaction').upsert(interaction, { jti: interaction, uid: interaction } as never, 600)
          assert.deepEqual(statements, ['with'], 'one statement for all three')
        })
        assert.equal(await stored(first), 7)
        assert.equal(await stored(second), 7)
        assert.ok(await adapter('Interaction').find(interaction))
        // A request that writes nothing more: settleRequest makes them.
        const third = `along-${id()}`
        let request!: object
        await inRequest(async () => {
          request = als.getStore()!
          await writeAlong(requests, db, note(third))
        })
        assert.equal(await stored(third), undefined, 'held')
        await settleRequest(db, requests, request)
        assert.equal(await stored(third), 7)
        // Outside a request: at once.
        const fourth = `along-${id()}`
        await writeAlong(requests, db, note(fourth))
        assert.equal(await stored(fourth), 7)
      })

      it('outside a request nothing is held: a consumption is made at once', async () => {
        const { of } = within()
        const { token } = await chain()
        statements = []
        await of('RefreshToken').consume(token)
        assert.deepEqual(statements, ['update'])
        assert.ok((await adapter('RefreshToken').find(token))?.consumed)
      })
    })

    it('sweeps expired rows in batches and keeps live ones', async () => {
      await database.db.deleteFrom('oidc_payload').execute()
      const a = adapter('AccessToken')
      for (let i = 0; i < 25; i++) await a.upsert(id(), { jti: 'x' } as never, 5)
      for (let i = 0; i < 3; i++) await a.upsert(id(), { jti: 'y' } as never, 3600)
      await adapter('Client').upsert('kept', { client_id: 'kept' } as never, 0)
      clock.advance(10)
      assert.equal(await sweepExpired(database.db, clock, 10), 25)
      const left = await database.db.selectFrom('oidc_payload').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()
      assert.equal(Number(left.n), 4)
      assert.equal(await sweepExpired(database.db, clock, 10), 0)
    })

    it('keeps sweeping while batches come back full, however large the backlog, and stops when told (#19)', async () => {
      await database.db.deleteFrom('oidc_payload').execute()
      const expires = new Date(clock.now().getTime() - 1000)
      // A backlog of more than 100 full batches: the sweeper used to stop there until its next run.
      await sql`insert into oidc_payload (model, id, payload, expires_at)
        select 'AccessToken', 'backlog-' || n, '{}', ${expires}::timestamptz from generate_series(1, 1050) n`.execute(database.ownerDb ?? database.db)
      assert.equal(await sweepExpired(database.db, clock, 10), 1050)
      await sql`insert into oidc_payload (model, id, payload, expires_at)
        select 'AccessToken', 'stopped-' || n, '{}', ${expires}::timestamptz from generate_series(1, 50) n`.execute(database.ownerDb ?? database.db)
      const stop = new AbortController()
      let batches = 0
      const deleted = await sweepExpired(database.db, clock, 10, { signal: stop.signal, onBatch: () => { if (++batches === 2) stop.abort() } })
      assert.equal(deleted, 20, 'the batch under way finishes, then the sweep ends')
    })
  })
}

describe('client cache (the provider\'s adapters)', () => {
  it('reads a client once while fresh, forgets it on change, and reads again after the TTL', async () => {
    const database = await createTestDatabase('pglite')
    try {
      await migrateTestDatabase(database)
      const deps = { db: database.db, box: new SealedBox(Buffer.alloc(32, 3)), clock: { now: () => new Date() } }
      const cache = new TtlCache<AdapterPayload>(0.2)
      const cached = new PostgresAdapter('Client', { ...deps, clientCache: cache })
      const other = new PostgresAdapter('Client', deps) // another process: the CLI
      await other.upsert('cached-client', { client_id: 'cached-client', client_secret: 's1' } as AdapterPayload, 0)
      assert.equal((await cached.find('cached-client'))?.client_secret, 's1')
      await other.upsert('cached-client', { client_id: 'cached-client', client_secret: 's2' } as AdapterPayload, 0)
      assert.equal((await cached.find('cached-client'))?.client_secret, 's1', 'still the cached copy')
      const copy = (await cached.find('cached-client'))!
      assert.throws(() => { copy.client_secret = 'mutated' }, TypeError, 'no caller can change the cached copy')
      assert.equal((await cached.find('cached-client'))?.client_secret, 's1')
      await new Promise((resolve) => setTimeout(resolve, 250))
      assert.equal((await cached.find('cached-client'))?.client_secret, 's2', 'read again after the TTL')
      await cached.destroy('cached-client')
      assert.equal(await cached.find('cached-client'), undefined, 'its own change is seen at once')
    } finally {
      await database.drop()
    }
  })
})
