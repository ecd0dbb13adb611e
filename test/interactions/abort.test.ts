import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as client from 'openid-client'
import request from 'supertest'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const REDIRECT_URI = 'https://rp.example.kr/callback'

describe('the login page', () => {
  let server: TestServer
  let config: client.Configuration
  let clientName: string

  before(async () => {
    server = await startTestServer()
    const store = server.ctx.clients
    const rp = await store.add({ name: '데모은행', redirectUris: [REDIRECT_URI] })
    clientName = String(rp.client_name)
    config = await client.discovery(new URL(server.issuer), rp.client_id, {}, client.ClientSecretBasic(String(rp.client_secret)), { execute: [client.allowInsecureRequests] })
  })
  after(async () => { await server.close() })

  /** Starts an authorization request as a browser would and follows it to the interaction page. */
  async function begin(extra: Record<string, string> = {}) {
    const verifier = client.randomPKCECodeVerifier()
    const state = client.randomState()
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI, scope: 'openid', state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra,
    })
    const browser = request.agent(server.url)
    const start = await browser.get(url.pathname + url.search).expect(303)
    const interaction = start.headers.location!
    assert.match(interaction, /^\/interaction\/[A-Za-z0-9_-]+$/)
    return { browser, interaction, verifier, state }
  }

  const csrfOf = (html: string) => html.match(/name="csrf" value="([^"]+)"/)![1]!

  it('names the institution and offers both holders, in Korean', async () => {
    const { browser, interaction } = await begin()
    const page = await browser.get(interaction).expect(200)
    assert.match(page.text, /<html lang="ko">/)
    assert.match(page.text, /패스키로 로그인/)
    assert.match(page.text, /인증서 파일로 로그인/)
    assert.match(page.text, /<script type="module" src="\/assets\/login.js">/)
    assert.ok(page.text.includes(`${clientName}에서 로그인을 요청했습니다`))
    assert.equal(page.headers['cache-control'], 'no-store')
  })

  it('speaks English when the request asks for it with ui_locales', async () => {
    const { browser, interaction } = await begin({ ui_locales: 'en' })
    const page = await browser.get(interaction).expect(200)
    assert.match(page.text, /<html lang="en">/)
    assert.match(page.text, /Log in with a passkey/)
  })

  it('returns the subscriber to the institution with access_denied on cancel', async () => {
    const { browser, interaction, verifier, state } = await begin()
    const page = await browser.get(interaction).expect(200)
    const aborted = await browser.post(`${interaction}/abort`).type('form').send({ csrf: csrfOf(page.text) }).expect(303)
    const resumed = await browser.get(new URL(aborted.headers.location!, server.url).pathname).expect(303)
    const callback = new URL(resumed.headers.location!)
    assert.equal(callback.origin + callback.pathname, REDIRECT_URI)
    // The relying party's library sees a well-formed error response for its own request.
    await assert.rejects(
      client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state }),
      (err: client.AuthorizationResponseError) => {
        assert.equal(err.error, 'access_denied')
        assert.equal(err.error_description, 'the subscriber cancelled the login')
        return true
      },
    )
  })

  it('refuses an abort without the page\'s CSRF token', async () => {
    const { browser, interaction } = await begin()
    await browser.get(interaction).expect(200)
    const missing = await browser.post(`${interaction}/abort`).type('form').set('Accept', 'text/html').send({}).expect(403)
    assert.match(missing.text, /다른 사이트에서 보낸 요청/)
    const other = await begin()
    const otherPage = await other.browser.get(other.interaction).expect(200)
    const wrong = await browser.post(`${interaction}/abort`).type('form').send({ csrf: csrfOf(otherPage.text) }).expect(403)
    assert.equal(wrong.body.error, 'invalid_csrf_token')
  })

  it('refuses an interaction from a browser that did not start it', async () => {
    const { interaction } = await begin()
    const stranger = await request(server.url).get(interaction).set('Accept', 'text/html').expect(400)
    assert.match(stranger.text, /로그인 요청이 만료되었거나 올바르지 않습니다/)
  })
})
