import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { ManualClock } from '../../src/util/clock.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { LoginHarness } from '../login/harness.ts'

describe('introspection and revocation: an institution sees and revokes its own tokens only', () => {
  let server: TestServer
  let h: LoginHarness
  const clock = new ManualClock()
  before(async () => {
    server = await startTestServer({ overrides: { clock } })
    h = new LoginHarness(server, clock)
  })
  after(async () => { await server.close() })

  it('another client gets active: false for a token it was not issued (not the subscriber it names), and cannot revoke it', async () => {
    const bank = await h.relyingParty({ name: '토큰은행', redirectUri: 'https://own.example.kr/cb' })
    const snoop = await h.relyingParty({ name: '엿보기', redirectUri: 'https://snoop.example.kr/cb' })
    const { tokens } = await h.login(bank, await h.subscriber())
    const call = (rp: typeof bank, path: string) => fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${rp.clientId}:${rp.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: tokens.access_token }),
    })
    const theirs = await (await call(snoop, '/token/introspection')).json() as Record<string, unknown>
    assert.deepEqual(theirs, { active: false })
    const revoked = await call(snoop, '/token/revocation')
    assert.equal(revoked.status, 400)
    assert.equal(((await revoked.json()) as { error: string }).error, 'invalid_request')
    const own = await (await call(bank, '/token/introspection')).json() as Record<string, unknown>
    assert.equal(own.active, true, 'still active: the other client could not revoke it')
    assert.equal(own.sub, tokens.claims()!.sub)
  })
})
