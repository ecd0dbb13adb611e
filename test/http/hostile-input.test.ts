import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { ManualClock } from '../../src/util/clock.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { LoginHarness } from '../login/harness.ts'

/** Inputs the fuzzing of issue #14 found answered with 500: each gets a 4xx now, and nothing of the input is written back. */
describe('hostile input: a clear 4xx, never a server error or a host of the client\'s choosing', () => {
  let server: TestServer
  let proxied: TestServer
  let h: LoginHarness
  let rp: Awaited<ReturnType<LoginHarness['relyingParty']>>
  const clock = new ManualClock()
  before(async () => {
    server = await startTestServer({ overrides: { clock } })
    proxied = await startTestServer({ env: { TRUST_PROXY: 'true' } })
    h = new LoginHarness(server, clock)
    rp = await h.relyingParty({ name: '입력은행', redirectUri: 'https://input.example.kr/cb' })
  })
  after(async () => {
    await server.close()
    await proxied.close()
  })

  it('a NUL in a client id or a passkey id', async () => {
    const auth = await fetch(`${server.url}/auth?client_id=%00&response_type=code&scope=openid&redirect_uri=https://input.example.kr/cb`, { redirect: 'manual' })
    assert.equal(auth.status, 400)
    const flow = await h.begin(rp)
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: 'x', origin: server.issuer })).toString('base64url')
    const passkey = await h.api(flow.browser, flow.csrf, `/interaction/${flow.uid}/login/passkey`, { assertion: { id: 'abc\u0000', rawId: 'abc', type: 'public-key', response: { clientDataJSON } } })
    assert.equal(passkey.status, 400)
    assert.equal(passkey.body.error, 'invalid_proof')
  })

  it('parameters on the resume URL of a sign-in', async () => {
    const res = await fetch(`${server.url}/auth/anything?client_id=${rp.clientId}`, { redirect: 'manual', headers: { accept: 'application/json' } })
    assert.equal(res.status, 400)
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_request')
  })

  it('a Host or X-Forwarded-Host of the client\'s choosing is never written into discovery', async () => {
    for (const [target, headers] of [
      [server, { host: 'evil.example' }],
      [proxied, { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' }],
    ] as const) {
      const discovery = await (await fetch(`${target.url}/.well-known/openid-configuration`, { headers })).text()
      assert.ok(!discovery.includes('evil.example'), discovery.slice(0, 200))
      assert.match(discovery, new RegExp(`"authorization_endpoint":"${target.issuer}/auth"`))
    }
  })

  it('a malformed X-Forwarded-Proto behind the proxy', async () => {
    const res = await fetch(`${proxied.url}/.well-known/openid-configuration`, { headers: { 'x-forwarded-proto': 'ht tp', 'x-forwarded-host': 'a b%%' } })
    assert.equal(res.status, 400)
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_request')
  })
})
