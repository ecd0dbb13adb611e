import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import request from 'supertest'
import { startTestServer, type TestServer } from '../helpers/server.ts'

describe('HTTP surface', () => {
  let server: TestServer
  before(async () => { server = await startTestServer() })
  after(async () => { await server.close() })

  it('answers /healthz and /readyz', async () => {
    const health = await request(server.url).get('/healthz').expect(200)
    assert.deepEqual(health.body, { status: 'ok' })
    const ready = await request(server.url).get('/readyz').expect(200)
    assert.deepEqual(ready.body, { status: 'ready', checks: { database: 'ok', migrations: 'ok' } })
  })

  it('is not ready while a migration is pending', async () => {
    // The migration record is the owner's to change.
    const db = server.database.ownerDb ?? server.ctx.db
    const last = await db.selectFrom('postcert_migration').selectAll().orderBy('name', 'desc').executeTakeFirstOrThrow()
    await db.deleteFrom('postcert_migration').where('name', '=', last.name).execute()
    try {
      const res = await request(server.url).get('/readyz').expect(503)
      assert.deepEqual(res.body, { status: 'not_ready', checks: { database: 'ok', migrations: 'pending' } })
    } finally {
      await db.insertInto('postcert_migration').values({ name: last.name }).execute()
    }
    await request(server.url).get('/readyz').expect(200)
  })

  it('ends a session at RP-initiated logout and confirms it in Korean', async () => {
    const browser = request.agent(server.url)
    // Without a session there is nothing to ask: oidc-provider posts its own confirmation form.
    const start = await browser.get('/session/end').expect(200)
    const script = start.text.match(/<script>([\s\S]*?)<\/script>/)![1]!
    const hash = createHash('sha256').update(script).digest('base64')
    assert.ok(start.headers['content-security-policy']!.includes(`'sha256-${hash}'`), 'the CSP allows exactly its auto-submit script')
    const form = start.text.match(/<form method="post" action="([^"]+)">[\s\S]*?name="xsrf" value="([^"]+)"/)!
    const confirmed = await browser.post(new URL(form[1]!).pathname).type('form').send({ xsrf: form[2]! }).expect(303)
    const done = await browser.get(new URL(confirmed.headers.location!, server.url).pathname).expect(200)
    assert.match(done.text, /<html lang="ko">/)
    assert.match(done.text, /로그아웃되었습니다/)
  })

  it('exposes Prometheus metrics by route, and counts issued tokens', async () => {
    const store = server.ctx.clients
    const rp = await store.add({ name: 'Metrics Bank', grantTypes: ['client_credentials'] })
    await request(server.url).post('/token').auth(rp.client_id, String(rp.client_secret)).type('form').send({ grant_type: 'client_credentials' }).expect(200)
    await request(server.url).get('/healthz').expect(200)
    const res = await request(server.url).get('/metrics').expect(200)
    assert.match(res.headers['content-type']!, /^text\/plain/)
    assert.match(res.text, /postcert_http_requests_total\{method="GET",route="healthz",status="200"\} \d+/)
    assert.match(res.text, /postcert_http_requests_total\{method="POST",route="token",status="200"\} 1/)
    assert.match(res.text, /postcert_http_request_duration_seconds_bucket\{le="0.005",method="GET",route="healthz"\}/)
    assert.match(res.text, /postcert_tokens_issued_total\{type="client_credentials"\} 1/)
  })

  it('sets security headers on every response', async () => {
    for (const path of ['/.well-known/openid-configuration', '/healthz', '/nowhere']) {
      const res = await request(server.url).get(path)
      assert.match(res.headers['content-security-policy']!, /default-src 'self'.*frame-ancestors 'none'/)
      assert.equal(res.headers['x-content-type-options'], 'nosniff')
      assert.equal(res.headers['x-frame-options'], 'DENY')
      assert.equal(res.headers['referrer-policy'], 'no-referrer')
      assert.match(res.headers['x-request-id']!, /^[0-9a-f-]{36}$/)
    }
  })

  it('does not take a request id from an untrusted client', async () => {
    const res = await request(server.url).get('/healthz').set('X-Request-Id', 'forged-id')
    assert.notEqual(res.headers['x-request-id'], 'forged-id')
  })

  it('answers unknown routes with a JSON 404 for API callers', async () => {
    const res = await request(server.url).get('/no/such/route').expect(404)
    assert.match(res.headers['content-type']!, /application\/json/)
    assert.deepEqual(res.body, { error: 'not_found', error_description: 'no such resource' })
  })

  it('answers unknown routes with a readable page for browsers, in Korean by default', async () => {
    const ko = await request(server.url).get('/no/such/route').set('Accept', 'text/html').expect(404)
    assert.match(ko.headers['content-type']!, /text\/html/)
    assert.match(ko.text, /<html lang="ko">/)
    assert.match(ko.text, /요청한 페이지를 찾을 수 없습니다/)
    const en = await request(server.url).get('/no/such/route').set('Accept', 'text/html').set('Accept-Language', 'en-US,en;q=0.9').expect(404)
    assert.match(en.text, /<html lang="en">/)
    assert.match(en.text, /The page you asked for does not exist/)
  })

  it('answers a wrong method with 405 and Allow', async () => {
    const res = await request(server.url).post('/healthz').expect(405)
    assert.equal(res.headers.allow, 'GET')
    assert.equal(res.body.error, 'method_not_allowed')
  })

  const malformed: [string, (r: request.Agent) => request.Test][] = [
    ['a token request without grant_type', (r) => r.post('/token').type('form').send('')],
    ['a token request with a JSON body', (r) => r.post('/token').set('Content-Type', 'application/json').send('{"grant_type":')],
    ['a token request with an unknown client', (r) => r.post('/token').auth('nobody', 'x').type('form').send({ grant_type: 'client_credentials' })],
    ['a token request with a huge body', (r) => r.post('/token').type('form').send(`grant_type=client_credentials&x=${'a'.repeat(200_000)}`)],
    ['an introspection without a client', (r) => r.post('/token/introspection').type('form').send({ token: 'x' })],
    ['a revocation with garbage', (r) => r.post('/token/revocation').type('form').send('%%%')],
    ['a userinfo request without a token', (r) => r.get('/me')],
    ['an interaction that does not exist', (r) => r.get('/interaction/doesnotexist')],
    ['an abort without a form', (r) => r.post('/interaction/doesnotexist/abort').set('Content-Type', 'application/json').send('{}')],
    ['a logout with a bogus id_token_hint', (r) => r.get('/session/end?id_token_hint=abc')],
  ]
  for (const [what, send] of malformed) {
    it(`answers ${what} with a 4xx OAuth error in JSON`, async () => {
      const res = await send(request.agent(server.url)).set('Accept', 'application/json')
      assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`)
      assert.match(res.headers['content-type']!, /application\/json/)
      assert.equal(typeof res.body.error, 'string')
      assert.doesNotMatch(res.text, /at .*\.(ts|js):\d+/, 'no stack trace')
    })
  }

  it('never answers malformed input with a 5xx', async () => {
    const store = server.ctx.clients
    const rp = await store.add({ name: 'Probe Bank', redirectUris: ['https://rp.example.kr/cb'], grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'] })
    const R = () => request(server.url)
    const token = (form: Record<string, string>, test = R().post('/token')) => test.auth(rp.client_id, String(rp.client_secret)).type('form').send(form)
    const authz = `/auth?client_id=${rp.client_id}&response_type=code&scope=openid&redirect_uri=https://rp.example.kr/cb`
    const probes: (() => request.Test)[] = [
      () => token({ grant_type: 'authorization_code', code: 'x', redirect_uri: 'https://rp.example.kr/cb', code_verifier: 'a'.repeat(43) }),
      () => token({ grant_type: 'refresh_token', refresh_token: 'x' }),
      () => token({ grant_type: 'urn:unknown' }),
      () => token({ grant_type: 'client_credentials', scope: '\u0000\uffff' }),
      () => token({ grant_type: 'client_credentials', resource: 'not a url' }),
      () => token({ grant_type: 'client_credentials' }, R().post('/token').set('DPoP', 'a.b.c')),
      () => R().get('/me').set('Authorization', 'Bearer x'),
      () => R().get('/me').set('Authorization', 'DPoP x').set('DPoP', 'garbage'),
      () => R().get(`/session/end?post_logout_redirect_uri=https://evil.example&client_id=${rp.client_id}`),
      () => R().get('/auth/abc'),
      () => R().get(`/interaction/${'a'.repeat(300)}`),
      () => R().post('/interaction/abc/abort').type('form').send(`csrf=${'a'.repeat(20_000)}`),
      () => R().get(`${authz}&code_challenge=short&code_challenge_method=S256`),
      () => R().get(authz.replace('rp.example.kr', 'evil.example')),
      () => R().get(`/auth?client_id=${rp.client_id}&request=a.b.c`),
      () => R().get(`${authz}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256&claims={bad`),
      () => R().get(`${authz}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256&state=%00x&nonce=%00`),
      () => R().post('/token/revocation').auth(rp.client_id, String(rp.client_secret)).type('form').send({ token: 'x', token_type_hint: 'bogus' }),
      () => R().post('/token').set('Authorization', 'Basic %%%').type('form').send({ grant_type: 'client_credentials' }),
      () => R().post('/token').type('form').send({ grant_type: 'client_credentials', client_id: rp.client_id, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: 'a.b.c' }),
      () => R().post('/token').attach('file', Buffer.from('x'), 'f.txt'),
      () => R().delete('/token'),
      () => R().get('/%E0%A4%A'),
    ]
    for (const [i, probe] of probes.entries()) {
      const res = await probe()
      assert.ok(res.status < 500, `probe ${i} -> ${res.status} ${res.text.slice(0, 100)}`)
    }
  })

  // The authorization endpoint is where browsers land, so its errors are always a page.
  for (const [what, query] of [['without parameters', ''], ['for an unknown client', '?client_id=nobody&response_type=code&scope=openid']]) {
    it(`answers an authorization request ${what} with a readable 400 page`, async () => {
      const res = await request(server.url).get(`/auth${query}`).expect(400)
      assert.match(res.headers['content-type']!, /text\/html/)
      assert.match(res.text, /<html lang="ko">/)
      assert.match(res.text, /요청을 처리할 수 없습니다/)
      assert.match(res.text, /<code id="error-code">(invalid_request|invalid_client)<\/code>/)
      assert.doesNotMatch(res.text, /at .*\.(ts|js):\d+/, 'no stack trace')
    })
  }
})

describe('behind a TLS proxy', () => {
  let trusted: TestServer
  let untrusted: TestServer
  before(async () => {
    trusted = await startTestServer({ env: { PUBLIC_URL: 'https://id.postcert.test', TRUST_PROXY: 'true' } })
    untrusted = await startTestServer({ env: { PUBLIC_URL: 'https://id.postcert.test' } })
  })
  after(async () => { await Promise.all([trusted.close(), untrusted.close()]) })

  const forwarded = (url: string) => request(url).get('/.well-known/openid-configuration')
    .set('X-Forwarded-Proto', 'https').set('X-Forwarded-Host', 'id.postcert.test').set('X-Request-Id', 'lb-1234').expect(200)

  it('with TRUST_PROXY, discovery shows the https issuer and https endpoints', async () => {
    const res = await forwarded(trusted.url)
    assert.equal(res.body.issuer, 'https://id.postcert.test')
    assert.equal(res.body.token_endpoint, 'https://id.postcert.test/token')
    assert.equal(res.body.jwks_uri, 'https://id.postcert.test/jwks')
    assert.equal(res.headers['x-request-id'], 'lb-1234')
    assert.match(res.headers['strict-transport-security']!, /max-age=31536000/)
  })

  it('without TRUST_PROXY, forwarded headers are ignored and plain requests refused', async () => {
    const res = await request(untrusted.url).get('/.well-known/openid-configuration')
      .set('X-Forwarded-Proto', 'https').set('X-Forwarded-Host', 'id.postcert.test').set('X-Request-Id', 'lb-1234').expect(400)
    assert.deepEqual(res.body, { error: 'https_required', error_description: 'PostCert must be reached over https, through its TLS proxy' })
    assert.notEqual(res.headers['x-request-id'], 'lb-1234')
  })

  it('refuses a request that bypassed the proxy, with a page for browsers', async () => {
    const res = await request(trusted.url).get('/auth?client_id=x').set('Accept', 'text/html').expect(400)
    assert.match(res.text, /보안 연결\(https\)로만 이용할 수 있습니다/)
  })

  it('still answers health checks over plain HTTP', async () => {
    await request(untrusted.url).get('/healthz').expect(200)
    await request(untrusted.url).get('/readyz').expect(200)
  })
})

describe('cookie signatures (CookieKeys, in place of Keygrip)', () => {
  it('signs and verifies exactly as Keygrip does, with any of the keys', async () => {
    const { default: Keygrip } = await import('keygrip')
    const { CookieKeys } = await import('../../src/http/cookie-keys.ts')
    const keys = ['first-secret-ключ', 'second secret']
    const ours = new CookieKeys(keys)
    const theirs = new Keygrip(keys)
    for (const data of ['_session=abc', '', 'x'.repeat(500), '세션=값']) {
      assert.equal(ours.sign(data), theirs.sign(data))
      assert.equal(ours.index(data, theirs.sign(data)), 0)
    }
    const old = new Keygrip(['second secret'])
    assert.equal(ours.index('_session=abc', old.sign('_session=abc')), 1, 'a retired key still verifies')
    assert.equal(ours.index('_session=abc', ours.sign('_session=abd')), -1)
    assert.equal(ours.index('_session=abc', ''), -1)
    assert.equal(ours.verify('_session=abc', 'not-a-signature'), false)
  })
})
