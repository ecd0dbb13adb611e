import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import request from 'supertest'
import { ENROLLMENTS_PER_IP_PER_HOUR } from '../../src/enrollment/constants.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

/** Starts an enrollment as a browser behind the proxies would, with this X-Forwarded-For. */
async function startEnrollment(server: TestServer, forwardedFor: string) {
  const agent = request.agent(server.url)
  const page = await agent.get('/enroll').set('X-Forwarded-For', forwardedFor).expect(200)
  const csrf = page.text.match(/name="csrf" value="([^"]+)"/)![1]!
  return await agent.post('/enroll/start').set('X-Forwarded-For', forwardedFor).type('form').send({ csrf })
}

const limitKeys = (server: TestServer) => server.ctx.db.selectFrom('rate_limit').select('key').where('key', 'like', 'enroll:ip:%').execute()

describe('the client address behind the operator\'s proxies (TRUST_PROXY, TRUSTED_PROXY_HOPS)', () => {
  let one: TestServer
  let two: TestServer
  before(async () => {
    one = await startTestServer({ env: { TRUST_PROXY: 'true' } })
    two = await startTestServer({ env: { TRUST_PROXY: 'true', TRUSTED_PROXY_HOPS: '2' } })
  })
  after(async () => {
    await one.close()
    await two.close()
  })

  it('one proxy: the rightmost entry; what the client writes to the left changes nothing, so the per-address limit holds', async () => {
    for (let i = 0; i < ENROLLMENTS_PER_IP_PER_HOUR; i++) {
      assert.equal((await startEnrollment(one, `10.9.${i}.1, 198.51.100.7`)).status, 303, `start ${i + 1}`)
    }
    const refused = await startEnrollment(one, '10.9.200.1, 198.51.100.7')
    assert.equal(refused.status, 429)
    assert.deepEqual((await limitKeys(one)).map((r) => r.key), ['enroll:ip:198.51.100.7'])
    // Another client behind the same proxy is another address.
    assert.equal((await startEnrollment(one, '198.51.100.8')).status, 303)
  })

  it('two proxies: the entry the outer one appended', async () => {
    assert.equal((await startEnrollment(two, '10.9.0.1, 203.0.113.5, 198.51.100.7')).status, 303)
    assert.deepEqual((await limitKeys(two)).map((r) => r.key), ['enroll:ip:203.0.113.5'])
  })
})
