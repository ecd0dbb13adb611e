import assert from 'node:assert/strict'
import net from 'node:net'
import pino from 'pino'
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
  const logged: Array<{ level: number; msg: string; err?: { stack?: string } }> = []
  before(async () => {
    const logger = pino({ level: 'debug' }, { write: (line: string) => { logged.push(JSON.parse(line)) } })
    server = await startTestServer({ overrides: { clock, logger } })
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

  it('a posted authorization or logout request too long for a URL is refused, not turned into a redirect nobody can read (found by the fuzz suite)', async () => {
    for (const [path, form] of [
      ['/auth', `client_id=${rp.clientId}&state=${'x'.repeat(16_000)}`],
      ['/auth', `a=${'!'.repeat(5_500)}`], // 5.5 KB that encoding triples
      ['/session/end', `state=${'x'.repeat(16_000)}`],
    ] as const) {
      const res = await fetch(`${server.url}${path}`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: form })
      assert.equal(res.status, 413, path)
      const body = await res.json() as { error: string; error_description: string }
      assert.equal(body.error, 'invalid_request')
      assert.match(body.error_description, /too long to be sent as a URL.*PAR/)
    }
    // A form of ordinary size is still passed on as a GET.
    const posted = await fetch(`${server.url}/auth`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `client_id=${rp.clientId}&state=${'x'.repeat(2_000)}` })
    assert.equal(posted.status, 303)
    assert.ok(posted.headers.get('location')!.length < 8 * 1024)
  })

  it('uploads the client abandons and bad input are not errors of PostCert: nothing at error level, no stack', async (t) => {
    logged.length = 0
    const printed: unknown[] = []
    const print = console.error
    console.error = (...args: unknown[]) => { printed.push(args) }
    t.after(() => { console.error = print })
    const { port } = new URL(server.url)
    const abandon = (path: string, type: string, start: string) => new Promise<void>((resolve) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => {
        socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: ${type}\r\nContent-Length: 100000\r\n\r\n${start}`)
        setTimeout(() => { socket.destroy(); resolve() }, 50)
      })
      socket.on('error', () => resolve())
    })
    await abandon('/token', 'application/x-www-form-urlencoded', 'grant_type=client_credentials&scope=')
    await abandon('/pki/ocsp', 'application/ocsp-request', '0\x82')
    await abandon('/signatures/verify', 'application/json', '{"signature":')
    await abandon('/enroll/start', 'application/x-www-form-urlencoded', 'csrf=')
    const flow = await h.begin(rp)
    await abandon(`/interaction/${flow.uid}/login/file`, 'application/json', '{"proof":"')
    await abandon('/register', 'application/json', '{"redirect_uris":[')
    // and input that is merely wrong
    await fetch(`${server.url}/signatures/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"signature":' })
    await fetch(`${server.url}/pki/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: 'not der' })
    await fetch(`${server.url}/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[' })
    await new Promise((resolve) => setTimeout(resolve, 300))
    const errors = logged.filter((line) => line.level >= 50)
    assert.deepEqual(errors.map((line) => line.msg), [])
    assert.ok(!logged.some((line) => line.err?.stack), 'no stack in the log')
    assert.deepEqual(printed, [], 'nothing printed to stderr')
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200)
  })
})
