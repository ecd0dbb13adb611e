import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as client from 'openid-client'
import request from 'supertest'
import type { Browser } from 'playwright-core'
import { buildConfig, ConfigError } from '../../src/config/config.ts'
import { TEST_SUBSCRIBER_ID } from '../../src/login/test-subscriber.ts'
import { createInitialAccessToken } from '../../src/oidc/initial-access-token.ts'
import { launchBrowser, NEEDS_CHROMIUM } from '../helpers/browser.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const PRODUCTION = {
  NODE_ENV: 'production', PUBLIC_URL: 'https://id.example.kr', DATABASE_URL: 'postgres://x@localhost/x', POSTCERT_MASTER_KEY: 'k',
  TRUST_PROXY: 'true', SMS_GATEWAY_URL: 'https://sms.example.kr', SMS_GATEWAY_TOKEN: 't', IDENTITY_PROVIDER_URL: 'https://id.example.kr', IDENTITY_PROVIDER_TOKEN: 't',
}

describe('test mode for the OpenID conformance suite (POSTCERT_TEST_MODE)', () => {
  let server: TestServer
  let browser: Browser | undefined

  before(async () => {
    server = await startTestServer({ env: { POSTCERT_TEST_MODE: 'true' }, hostname: 'localhost' })
  })
  after(async () => {
    await browser?.close()
    await server.close()
  })

  it('is refused in production', () => {
    assert.doesNotThrow(() => buildConfig(PRODUCTION))
    assert.throws(() => buildConfig({ ...PRODUCTION, POSTCERT_TEST_MODE: 'true' }), (err: Error) => err instanceof ConfigError && /POSTCERT_TEST_MODE/.test(err.message))
  })

  it('lets a scripted browser log in as the test subscriber with one click, then approve', { skip: NEEDS_CHROMIUM }, async () => {
    const redirectUri = `${server.issuer}/rp/callback`
    const { token } = await createInitialAccessToken(server.ctx.host.provider, { days: 1 })
    const registered = (await request(server.url).post('/reg').set('Content-Type', 'application/json').set('Authorization', `Bearer ${token}`)
      .send(JSON.stringify({ redirect_uris: [redirectUri], client_name: 'Conformance Suite' })).expect(201)).body
    const config = await client.discovery(new URL(server.issuer), registered.client_id, {}, client.ClientSecretBasic(registered.client_secret), { execute: [client.allowInsecureRequests] })
    const verifier = client.randomPKCECodeVerifier()
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri, scope: 'openid profile', state: 'st', nonce: 'n',
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    })
    browser = await launchBrowser()
    const page = await browser.newPage()
    await page.goto(url.href)
    await page.waitForURL(/\/interaction\//)
    // What conformance/*.json tells the suite's browser to do: click, then click approve.
    await page.click('#test-mode-login')
    await page.waitForURL(/\/interaction\//)
    const [callback] = await Promise.all([
      page.waitForRequest((r) => r.url().startsWith(redirectUri)),
      page.click('button[name="decision"][value="approve"]'),
    ])
    const tokens = await client.authorizationCodeGrant(config, new URL(callback.url()), { pkceCodeVerifier: verifier, expectedState: 'st', expectedNonce: 'n' })
    const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub)
    assert.equal(info.name, '테스트 가입자')
    const event = await server.ctx.db.selectFrom('audit_event').select('type').where('subscriber_id', '=', TEST_SUBSCRIBER_ID).where('type', '=', 'login').executeTakeFirst()
    assert.ok(event, 'the login is recorded like any other')
  })
})

describe('outside test mode', () => {
  let server: TestServer
  before(async () => { server = await startTestServer() })
  after(async () => { await server.close() })

  it('has no test login and no test subscriber', async () => {
    await request(server.url).post('/interaction/x/test-login').type('form').send({ csrf: 'x' }).expect(404)
    const subscriber = await server.ctx.db.selectFrom('subscriber').select('id').where('id', '=', TEST_SUBSCRIBER_ID).executeTakeFirst()
    assert.equal(subscriber, undefined)
  })
})
