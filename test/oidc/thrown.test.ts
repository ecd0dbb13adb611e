import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as client from 'openid-client'
import { ManualClock } from '../../src/util/clock.ts'
import { loginSuite } from '../helpers/suite.ts'
import { ThrownCounter } from '../helpers/thrown.ts'

// A request that succeeds should throw nothing on its way: each exception thrown and caught costs
// a stack capture, more than the rest of an introspection (the two found so far cost a fifth of
// its CPU and a few percent of a login's). These hold the paths at none, so that one coming back,
// in PostCert's code or with an oidc-provider upgrade, shows here rather than in a benchmark.
describe('exceptions thrown on the paths of successful requests (#19)', () => {
  const clock = new ManualClock()
  const { h } = loginSuite(clock)
  const counter = new ThrownCounter()
  before(() => counter.start())
  after(() => counter.stop())

  it('none for a service token, its introspection and its revocation', async () => {
    const rp = await h.relyingParty({ redirectUri: 'https://thrown.example.kr/cb', scope: 'openid', grantTypes: ['authorization_code', 'client_credentials'] })
    const thrown = await counter.during(async () => {
      const { access_token } = await client.clientCredentialsGrant(rp.config)
      assert.equal((await client.tokenIntrospection(rp.config, access_token)).active, true)
      await client.tokenRevocation(rp.config, access_token)
      assert.equal((await client.tokenIntrospection(rp.config, access_token)).active, false)
    })
    assert.deepEqual(thrown, [])
  })

  it('none for a login with its consent, the code exchange, userinfo and a rotating refresh', async () => {
    const rp = await h.relyingParty({ redirectUri: 'https://thrown-login.example.kr/cb', scope: 'openid offline_access', grantTypes: ['authorization_code', 'refresh_token'] })
    const holder = await h.subscriber()
    const thrown = await counter.during(async () => {
      const { tokens } = await h.login(rp, holder, { scope: 'openid offline_access', prompt: 'consent' })
      assert.ok((await client.fetchUserInfo(rp.config, tokens.access_token, client.skipSubjectCheck)).sub)
      const rotated = await client.refreshTokenGrant(rp.config, tokens.refresh_token!)
      assert.equal((await client.tokenIntrospection(rp.config, rotated.access_token)).active, true)
    })
    assert.deepEqual(thrown, [])
  })
})
