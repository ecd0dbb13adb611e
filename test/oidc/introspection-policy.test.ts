import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ManualClock } from '../../src/util/clock.ts'
import { loginSuite } from '../helpers/suite.ts'

describe('introspection and revocation: an institution sees and revokes its own tokens only', () => {
  const clock = new ManualClock()
  const { server, h } = loginSuite(clock)

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
