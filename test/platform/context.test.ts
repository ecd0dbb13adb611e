import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import request from 'supertest'
import { systemClock } from '../../src/util/clock.ts'
import { RateLimiter, type RateDecision } from '../../src/util/rate-limiter.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/db.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

/** A limiter that refuses everything and remembers what it was asked. */
class RefusingLimiter extends RateLimiter {
  readonly keys: string[] = []
  override async hit(key: string): Promise<RateDecision> {
    this.keys.push(key)
    return { allowed: false, retryAfterSeconds: 120 }
  }
}

describe('the composition root: every service is built once, and a test may hand in its own', () => {
  let database: TestDatabase
  let server: TestServer
  let limiter: RefusingLimiter
  before(async () => {
    database = await createTestDatabase()
    limiter = new RefusingLimiter(database.db, systemClock)
    server = await startTestServer({ database, overrides: { limiter } })
  })
  after(async () => { await server.close() })

  it('the service handed in is the one every other service uses (enrollment asks it before it starts one)', async () => {
    assert.equal(server.ctx.limiter, limiter)
    const browser = request.agent(server.url)
    const start = await browser.get('/enroll').expect(200)
    const csrf = /name="csrf" value="([^"]+)"/.exec(start.text)![1]!
    const refused = await browser.post('/enroll/start').type('form').send({ csrf })
    assert.equal(refused.status, 429)
    assert.deepEqual(limiter.keys, ['enroll:ip:127.0.0.1'])
  })

  it('builds every service before it serves: no getter throws "not started"', () => {
    for (const name of ['enrollment', 'login', 'signing', 'account', 'registrations', 'issuance', 'host', 'clients', 'possession', 'phoneCodes', 'binding'] as const) {
      assert.ok(server.ctx[name], name)
    }
  })
})
