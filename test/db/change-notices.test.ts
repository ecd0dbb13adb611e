import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { AdapterPayload } from 'oidc-provider'
import pg from 'pg'
import { ChangeNotices } from '../../src/db/change-notices.ts'
import { SealedBox } from '../../src/keys/sealed-box.ts'
import { PostgresAdapter } from '../../src/oidc/adapter.ts'
import { SubscriberStore } from '../../src/subscribers/subscriber-store.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { TtlCache } from '../../src/util/ttl-cache.ts'
import { createTestDatabase, migrateTestDatabase, NEEDS_POSTGRES, type TestDatabase } from '../helpers/db.ts'
import { eventually } from '../helpers/eventually.ts'

const box = new SealedBox(randomBytes(32))
const clock = new ManualClock(new Date('2026-12-07T00:00:00Z'))

/** One PostCert instance's view of clients: its own cache and its own notices. */
function instance(database: TestDatabase, applicationName?: string) {
  const changes = new ChangeNotices({ applicationName })
  const clientCache = new TtlCache<AdapterPayload>(3600)
  changes.register('client', clientCache)
  const clients = new PostgresAdapter('Client', { db: database.db, box, clock, clientCache, changes })
  const subscribers = new SubscriberStore({ db: database.db, clock, changes })
  return { changes, clients, subscribers }
}

/** Writes a client without announcing it (as before any instance cached it): no notice is in flight. */
const quietly = (database: TestDatabase, id: string, payload: Record<string, unknown>) =>
  new PostgresAdapter('Client', { db: database.db, box, clock }).upsert(id, payload as never, 0)

/** Two instances on one database; the second listens (as this test's own connection) while `work` runs. */
async function twoInstances(database: TestDatabase, work: (one: ReturnType<typeof instance>, two: ReturnType<typeof instance>, listener: string) => Promise<void>) {
  const listener = `postcert-changes-test-${randomBytes(4).toString('hex')}`
  const [one, two] = [instance(database), instance(database, listener)]
  await two.changes.listen(database.url!)
  try {
    await work(one, two, listener)
  } finally {
    await two.changes.close()
  }
}

describe('change notices: what one instance caches, another instance\'s change empties (#19)', { skip: NEEDS_POSTGRES }, () => {
  let database: TestDatabase
  let admin: pg.Client
  before(async () => {
    database = await createTestDatabase('postgres')
    await migrateTestDatabase(database)
    admin = new pg.Client({ connectionString: database.ownerUrl })
    await admin.connect()
  })
  after(async () => {
    await admin.end()
    await database.drop()
  })

  it('a client changed or deleted on one instance is read again on the others at once, not when their cache expires', async () => {
    await twoInstances(database, async (one, two) => {
      const id = `bank-${randomBytes(4).toString('hex')}`
      await quietly(database, id, { client_id: id, client_secret: 'first-secret-value', client_name: 'old' })
      assert.equal((await two.clients.find(id))?.client_secret, 'first-secret-value', 'cached by the second instance (for an hour)')
      await one.clients.upsert(id, { client_id: id, client_secret: 'rotated-secret-value', client_name: 'new' } as never, 0)
      assert.equal(await eventually(async () => (await two.clients.find(id))?.client_secret, 'rotated-secret-value'), 'rotated-secret-value')
      await one.clients.destroy(id)
      assert.equal(await eventually(async () => (await two.clients.find(id))?.client_id, undefined), undefined, 'deleted')
    })
  })

  it('a subscriber\'s claims changed by a new enrollment are read again on every instance', async () => {
    await twoInstances(database, async (one, two) => {
      const person = { ci: `ci-${randomBytes(6).toString('hex')}`, name: '홍길동', birthdate: '1990-01-01', phone_e164: '+821012345678', document_type: 'resident_card', document_last_digits: '1234' }
      const recorded = await database.db.transaction().execute((trx) => new SubscriberStore({ db: database.db, clock }).recordVerified(trx, person as never))
      assert.equal((await two.subscribers.claims(recorded.id))?.phone_number, '+821012345678')
      await database.db.transaction().execute((trx) => one.subscribers.recordVerified(trx, { ...person, phone_e164: '+821098765432' } as never))
      assert.equal(await eventually(async () => (await two.subscribers.claims(recorded.id))?.phone_number, '+821098765432'), '+821098765432')
    })
  })

  it('a listener whose connection is lost empties its caches, connects again, and hears changes again', async () => {
    await twoInstances(database, async (one, two, listener) => {
      const id = `bank-${randomBytes(4).toString('hex')}`
      await quietly(database, id, { client_id: id, client_name: 'before' })
      assert.equal((await two.clients.find(id))?.client_name, 'before')
      await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1', [listener])
      // A change made while it was not listening is not lost: the cache was emptied.
      await database.db.updateTable('oidc_payload').set({ payload: JSON.stringify({ client_id: id, client_name: 'unannounced' }) })
        .where('model', '=', 'Client').where('id', '=', id).execute()
      assert.equal(await eventually(async () => (await two.clients.find(id))?.client_name, 'unannounced'), 'unannounced')
      assert.equal(await eventually(async () => two.changes.listening, true), true, 'connected again')
      await one.clients.upsert(id, { client_id: id, client_name: 'after' } as never, 0)
      assert.equal(await eventually(async () => (await two.clients.find(id))?.client_name, 'after'), 'after')
    })
  })
})

describe('change notices on the embedded database (one process)', () => {
  it('a client written through another adapter (the operator\'s client store) is dropped from the provider\'s cache', async () => {
    const database = await createTestDatabase('pglite')
    try {
      await migrateTestDatabase(database)
      const changes = new ChangeNotices()
      const clientCache = new TtlCache<AdapterPayload>(3600)
      changes.register('client', clientCache)
      const provider = new PostgresAdapter('Client', { db: database.db, box, clock, clientCache, changes })
      const store = new PostgresAdapter('Client', { db: database.db, box, clock, changes })
      await store.upsert('bank', { client_id: 'bank', client_name: 'old' } as never, 0)
      assert.equal((await provider.find('bank'))?.client_name, 'old')
      await store.upsert('bank', { client_id: 'bank', client_name: 'new' } as never, 0)
      assert.equal((await provider.find('bank'))?.client_name, 'new')
    } finally {
      await database.drop()
    }
  })
})
