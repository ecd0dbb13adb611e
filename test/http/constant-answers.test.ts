import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { startTestServer, type TestServer } from '../helpers/server.ts'

/** What an answer says, without what belongs to one answer only (its request id, its date). */
async function read(res: Response): Promise<{ status: number; headers: Record<string, string>; body: string; requestId: string | null }> {
  const headers = Object.fromEntries([...res.headers].filter(([name]) => !['x-request-id', 'date'].includes(name)))
  return { status: res.status, headers, body: await res.text(), requestId: res.headers.get('x-request-id') }
}

describe('discovery and the JWKS answered from kept bytes, without the app (#19)', () => {
  let server: TestServer
  before(async () => { server = await startTestServer() })
  after(async () => { await server.close() })

  it('answers discovery from its first answer: the same status, headers and body, a request id of its own, counted and logged as before', async () => {
    const url = `${server.url}/.well-known/openid-configuration`
    const before = server.ctx.answers.served
    const first = await read(await fetch(url))
    const second = await read(await fetch(url))
    const third = await read(await fetch(url))
    assert.equal(server.ctx.answers.served - before, 2, 'the second and third from the kept bytes')
    assert.equal(first.status, 200)
    assert.deepEqual(second, { ...first, requestId: second.requestId })
    assert.deepEqual(third, { ...first, requestId: third.requestId })
    assert.equal((JSON.parse(second.body) as { issuer: string }).issuer, server.issuer)
    assert.match(second.headers['content-security-policy']!, /default-src 'self'/)
    assert.equal(second.headers['access-control-allow-origin'], '*')
    assert.notEqual(second.requestId, third.requestId)
    assert.match(second.requestId!, /^[0-9a-f-]{36}$/)
    const metrics = await server.ctx.metrics.exposition()
    assert.match(metrics, /postcert_http_requests_total\{method="GET",route="discovery",status="200"\} 3\n/)
  })

  it('leaves to the app what is not a plain GET of the path: a query string, HEAD, OPTIONS', async () => {
    const url = `${server.url}/.well-known/openid-configuration`
    await fetch(url)
    const before = server.ctx.answers.served
    assert.equal((await fetch(`${url}?x=1`)).status, 200)
    assert.equal((await fetch(url, { method: 'HEAD' })).status, 200)
    const preflight = await fetch(url, { method: 'OPTIONS', headers: { origin: 'https://rp.example.kr', 'access-control-request-method': 'GET' } })
    assert.ok(preflight.status < 300, String(preflight.status))
    assert.equal(server.ctx.answers.served, before)
  })

  it('answers the JWKS of the new keys once they change (the provider is rebuilt, what was kept is dropped)', async () => {
    const kids = async () => ((await (await fetch(`${server.url}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid).sort()
    const old = await kids()
    assert.deepEqual(await kids(), old)
    const kept = server.ctx.answers.served
    await server.ctx.signingKeys.rotate()
    assert.equal(await server.ctx.host.refresh(), true)
    const now = await kids()
    assert.notDeepEqual(now, old, 'the new key is published at once')
    assert.deepEqual(await kids(), now)
    assert.equal(server.ctx.answers.served, kept + 1, 'the first answer after the change came from the new provider, the next one from its bytes')
  })
})

describe('kept answers with an https issuer (#19)', () => {
  let server: TestServer
  before(async () => { server = await startTestServer({ env: { PUBLIC_URL: 'https://id.example.kr', TRUST_PROXY: 'true' } }) })
  after(async () => { await server.close() })

  it('answers from kept bytes only what the trusted proxy says came over https; anything else is refused by the app as before', async () => {
    const url = `${server.url}/.well-known/openid-configuration`
    const overTls = { 'x-forwarded-proto': 'https' }
    assert.equal((await fetch(url, { headers: overTls })).status, 200)
    const before = server.ctx.answers.served
    const plain = await fetch(url)
    assert.equal(plain.status, 400)
    assert.equal(((await plain.json()) as { error: string }).error, 'https_required')
    assert.equal((await fetch(url, { headers: { 'x-forwarded-proto': 'http' } })).status, 400)
    assert.equal((await fetch(url, { headers: { 'x-forwarded-proto': 'gopher' } })).status, 400)
    assert.equal(server.ctx.answers.served, before, 'none of them from the kept bytes')
    const kept = await fetch(url, { headers: { ...overTls, 'x-request-id': 'proxy-id-1' } })
    assert.equal(kept.status, 200)
    assert.equal(kept.headers.get('x-request-id'), 'proxy-id-1', 'the trusted proxy\'s request id')
    assert.equal(kept.headers.get('strict-transport-security'), 'max-age=31536000; includeSubDomains')
    assert.equal(((await kept.json()) as { issuer: string }).issuer, 'https://id.example.kr')
    assert.equal(server.ctx.answers.served, before + 1)
  })
})

describe('kept answers behind a trusted proxy with an http issuer (#19)', () => {
  let server: TestServer
  before(async () => { server = await startTestServer({ env: { TRUST_PROXY: 'true' } }) })
  after(async () => { await server.close() })

  it('leaves a malformed X-Forwarded-Proto to the app, which refuses it, also once the document is kept', async () => {
    const url = `${server.url}/.well-known/openid-configuration`
    assert.equal((await fetch(url)).status, 200)
    assert.equal((await fetch(url, { headers: { 'x-forwarded-proto': 'http' } })).status, 200)
    const before = server.ctx.answers.served
    for (const proto of ['ht tp', 'gopher']) {
      const res = await fetch(url, { headers: { 'x-forwarded-proto': proto } })
      assert.equal(res.status, 400, proto)
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_request')
    }
    // A list of protocols (several proxies) is the app's to judge too: it takes this one.
    assert.equal((await fetch(url, { headers: { 'x-forwarded-proto': 'https, http' } })).status, 200)
    assert.equal(server.ctx.answers.served, before)
  })

  it('keeps the JWKS as it finally leaves the provider (every middleware done), so the kept bytes are the app\'s', async () => {
    const first = await (await fetch(`${server.url}/jwks`)).text()
    const before = server.ctx.answers.served
    const kept = await (await fetch(`${server.url}/jwks`)).text()
    assert.equal(server.ctx.answers.served, before + 1)
    assert.equal(kept, first)
    assert.ok(!kept.includes('key_ops'), 'the published keys only (oidc/provider.ts publishedKeysOnly)')
  })
})
