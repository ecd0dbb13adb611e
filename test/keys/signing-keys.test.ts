import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { SealedBox, UnsealError } from '../../src/keys/sealed-box.ts'
import { MasterKeyMismatchError, SecretStore } from '../../src/keys/secret-store.ts'
import { SigningKeyStore } from '../../src/keys/signing-keys.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { createTestDatabase, migrateTestDatabase, type TestDatabase } from '../helpers/db.ts'

describe('sealed box', () => {
  const box = new SealedBox(randomBytes(32))
  it('opens what it sealed, only in the same context and with the same key', () => {
    const sealed = box.seal('secret', 'row:1')
    assert.equal(box.openText(sealed, 'row:1'), 'secret')
    assert.throws(() => box.open(sealed, 'row:2'), UnsealError)
    assert.throws(() => new SealedBox(randomBytes(32)).open(sealed, 'row:1'), UnsealError)
    assert.notEqual(box.seal('secret', 'row:1'), sealed, 'a fresh IV each time')
  })
})

describe('signing keys', () => {
  let database: TestDatabase
  const clock = new ManualClock(new Date('2026-11-25T00:00:00Z'))
  const box = new SealedBox(randomBytes(32))
  let keys: SigningKeyStore
  const RETAIN = 3600

  before(async () => {
    database = await createTestDatabase()
    await migrateTestDatabase(database)
    keys = new SigningKeyStore(database.db, box, clock, RETAIN)
  })
  after(async () => { await database.drop() })

  it('creates one active and one next key per type, even when starts race', async () => {
    await Promise.all([keys.ensure(), keys.ensure(), keys.ensure()])
    const list = await keys.list()
    assert.deepEqual(list.map((k) => `${k.kty}:${k.state}`).sort(), ['EC:active', 'EC:next', 'RSA:active', 'RSA:next'])
  })

  it('stores private keys sealed', async () => {
    const rows = await database.db.selectFrom('signing_key').select('sealed_jwk').execute()
    for (const row of rows) {
      assert.match(row.sealed_jwk, /^v2\.[A-Za-z0-9_-]{8}\./)
      assert.ok(!row.sealed_jwk.includes('"d"'))
    }
  })

  it('offers the provider the active keys first; the others may only verify', async () => {
    const jwks = await keys.publishedJwks()
    const states = await keys.list()
    const stateOf = (kid: string) => states.find((k) => k.kid === kid)!.state
    assert.deepEqual(jwks.map((k) => stateOf(k.kid)), ['active', 'active', 'next', 'next'])
    assert.equal(jwks[0]!.key_ops, undefined)
    assert.deepEqual(jwks[2]!.key_ops, ['verify'])
  })

  it('rotates: next becomes active, active retires, a new next is published', async () => {
    const before = await keys.list()
    const fingerprint = await keys.fingerprint()
    const result = await keys.rotate()
    const after = await keys.list()
    const state = (kid: string) => after.find((k) => k.kid === kid)?.state
    for (const k of before.filter((k) => k.state === 'next')) assert.equal(state(k.kid), 'active')
    for (const k of before.filter((k) => k.state === 'active')) assert.equal(state(k.kid), 'retired')
    assert.deepEqual(result.activated.sort(), before.filter((k) => k.state === 'next').map((k) => k.kid).sort())
    assert.equal(result.prepublished.length, 2)
    for (const kid of result.prepublished) assert.equal(state(kid), 'next')
    assert.notEqual(await keys.fingerprint(), fingerprint, 'instances will notice')
    assert.equal((await keys.publishedJwks()).length, 6)
  })

  it('publishes a retired key until what it signed has expired, then drops it', async () => {
    const retired = (await keys.list()).filter((k) => k.state === 'retired').map((k) => k.kid)
    clock.advance(RETAIN - 1)
    let published = (await keys.publishedJwks()).map((k) => k.kid)
    assert.ok(retired.every((kid) => published.includes(kid)))
    clock.advance(2)
    published = (await keys.publishedJwks()).map((k) => k.kid)
    assert.ok(retired.every((kid) => !published.includes(kid)))
    await keys.rotate()
    const remaining = (await keys.list()).map((k) => k.kid)
    assert.ok(retired.every((kid) => !remaining.includes(kid)), 'a later rotation deletes them')
  })
})

describe('server secrets', () => {
  let database: TestDatabase
  before(async () => {
    database = await createTestDatabase()
    await migrateTestDatabase(database)
  })
  after(async () => { await database.drop() })

  it('are generated once and shared, sealed at rest', async () => {
    const store = new SecretStore(database.db, new SealedBox(Buffer.alloc(32, 3)))
    const [a, b] = await Promise.all([store.randomKeys('cookie-keys', 2), store.randomKeys('cookie-keys', 2)])
    assert.deepEqual(a, b)
    assert.equal(a.length, 2)
    const row = await database.db.selectFrom('server_secret').select('sealed_value').where('name', '=', 'cookie-keys').executeTakeFirstOrThrow()
    assert.ok(!row.sealed_value.includes(a[0]!))
  })

  it('refuse to start under a different master key', async () => {
    await new SecretStore(database.db, new SealedBox(Buffer.alloc(32, 3))).checkMasterKey()
    await assert.rejects(new SecretStore(database.db, new SealedBox(Buffer.alloc(32, 4))).checkMasterKey(), MasterKeyMismatchError)
  })
})
