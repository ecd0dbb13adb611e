import assert from 'node:assert/strict'
import fs from 'node:fs'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as jose from 'jose'
import * as client from 'openid-client'
import type { Browser } from 'playwright-core'
import { fillPlaceholders, moduleConfig, type BrowserEntry, type Json } from '../../conformance/config.ts'
import { launchBrowser, NEEDS_CHROMIUM } from '../helpers/browser.ts'
import { openssl } from '../helpers/pki.ts'
import { ROOT } from '../helpers/process.ts'
import { tempDir } from '../helpers/server.ts'
import { clientKey, Conformance, SUITE, type Rp } from './harness.ts'
import { SuiteBrowser } from './suite-browser.ts'

/**
 * The browser steps of conformance/*.json, run as the suite runs them (SuiteBrowser) against
 * PostCert's real pages in test mode: for the default steps and every module with an override,
 * the URL the module visits, and what the module then needs (its callback, or the screenshot it
 * asked for). A step that does not fit PostCert's pages fails here instead of in a real run.
 */
describe('conformance/*.json: the suite\'s browser steps fit PostCert\'s pages', { skip: NEEDS_CHROMIUM }, () => {
  let c: Conformance
  let browser: Browser
  let suite: https.Server
  before(async () => {
    c = await Conformance.start({ env: { POSTCERT_TEST_MODE: 'true' }, hostname: 'localhost' })
    // The suite's pages (callback, post-logout redirect) on a TLS server of their own, which the
    // browser reaches under the suite's host name.
    const dir = tempDir('postcert-suite-')
    const made = await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', path.join(dir, 'key.pem'),
      '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', `/CN=${new URL(SUITE).hostname}`])
    assert.equal(made.code, 0, made.output)
    suite = https.createServer({ key: fs.readFileSync(path.join(dir, 'key.pem')), cert: fs.readFileSync(path.join(dir, 'cert.pem')) }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>suite</title><p id="submission_complete">done</p>')
    })
    await new Promise<void>((resolve) => suite.listen(0, '127.0.0.1', resolve))
    const port = (suite.address() as AddressInfo).port
    browser = await launchBrowser([`--host-resolver-rules=MAP ${new URL(SUITE).hostname} 127.0.0.1:${port}`, '--ignore-certificate-errors'])
  })
  after(async () => {
    await browser?.close()
    await c?.close()
    await new Promise((resolve) => suite?.close(resolve))
  })

  /** The module's browser entries, from the shipped file, filled in for this server. */
  function entries(file: string, module: string): BrowserEntry[] {
    const raw = JSON.parse(fs.readFileSync(path.join(ROOT, 'conformance', file), 'utf8')) as Json
    const origin = new URL(c.issuer)
    const filled = fillPlaceholders(raw, { host: origin.host, origin: origin.origin, suiteOrigin: new URL(SUITE).origin }) as Record<string, Json>
    return moduleConfig(filled, module).browser as unknown as BrowserEntry[]
  }

  /** A fresh browser (no PostCert cookies) driven by the module's steps; the suite's pages answer at its origin. */
  async function suiteBrowser(file: string, module: string): Promise<SuiteBrowser> {
    const context = await browser.newContext()
    return new SuiteBrowser(await context.newPage(), entries(file, module))
  }

  const authUrl = (rp: Rp, params: Record<string, string | undefined> = {}) => {
    const url = new URL(`${c.issuer}/auth`)
    const all = { client_id: rp.clientId, response_type: 'code', scope: 'openid', redirect_uri: rp.redirectUri, state: client.randomState(), nonce: client.randomNonce(), ...params }
    for (const [k, v] of Object.entries(all)) if (v !== undefined) url.searchParams.set(k, v)
    return url
  }
  const callback = (b: SuiteBrowser) => {
    const url = new URL(b.page.url())
    assert.equal(url.origin + url.pathname, `${SUITE}/callback`, `back at the suite's callback, not ${url.href}`)
    return url
  }
  const screenshot = (b: SuiteBrowser, pattern: RegExp) => {
    assert.equal(b.placeholders.filter((p) => !p.optional).length, 1, 'the module\'s screenshot was taken')
    assert.match(b.placeholders[0]!.text, pattern)
    return b.placeholders[0]!
  }

  describe('OpenID Connect plans', () => {
    it('the default steps log in as the test subscriber, register at the institution and reach the callback', async () => {
      for (const file of ['oidcc-basic.json', 'oidcc-dynamic.json', 'oidcc-rp-initiated-logout.json', 'oidcc-backchannel-rp-initiated-logout.json']) {
        const b = await suiteBrowser(file, 'oidcc-server')
        await b.goTo(authUrl(await c.register({})).href)
        assert.ok(callback(b).searchParams.get('code'), file)
        assert.deepEqual(b.placeholders, [], file)
      }
    })

    it('oidcc-prompt-login and oidcc-max-age-1: the login page is the optional screenshot, then the login goes on', async () => {
      for (const module of ['oidcc-prompt-login', 'oidcc-max-age-1']) {
        const b = await suiteBrowser('oidcc-basic.json', module)
        await b.goTo(authUrl(await c.register({}), module === 'oidcc-prompt-login' ? { prompt: 'login' } : { max_age: '1' }).href)
        assert.ok(callback(b).searchParams.get('code'))
      }
    })

    it('the error-page modules capture PostCert\'s error page with its code', async () => {
      const rp = await c.register({})
      const unsigned = (claims: Record<string, string>) => `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`
      const cases: [string, string, URL][] = [
        ['oidcc-basic.json', 'oidcc-ensure-registered-redirect-uri', authUrl(rp, { redirect_uri: `${SUITE}/callback/abcdefghij` })],
        ['oidcc-basic.json', 'oidcc-ensure-request-object-with-redirect-uri', authUrl(rp, {
          redirect_uri: `${SUITE}/callback_invalid`, state: undefined, nonce: undefined,
          request: unsigned({ client_id: rp.clientId, redirect_uri: rp.redirectUri, response_type: 'code', scope: 'openid', state: 's', nonce: 'n' }),
        })],
        ['oidcc-dynamic.json', 'oidcc-ensure-redirect-uri-in-authorization-request',
          authUrl(await c.register({ redirect_uris: [`${SUITE}/callback`, 'https://example.org/redirect'] }), { redirect_uri: undefined })],
        ['oidcc-dynamic.json', 'oidcc-redirect-uri-query-mismatch',
          authUrl(await c.register({ redirect_uris: [`${SUITE}/callback?bar=foo`] }), { redirect_uri: `${SUITE}/callback?foo=bar` })],
        ['oidcc-dynamic.json', 'oidcc-redirect-uri-query-added', authUrl(rp, { redirect_uri: `${SUITE}/callback?foo=bar` })],
      ]
      for (const [file, module, url] of cases) {
        const b = await suiteBrowser(file, module)
        await b.goTo(url.href)
        const shot = screenshot(b, /^invalid_(redirect_uri|request)$/)
        assert.ok(shot.url.startsWith(c.issuer), `${module}: PostCert's page, not a redirect`)
      }
    })

    it('oidcc-registration-logo-uri, -policy-uri, -tos-uri: the login page (with the institution) is the screenshot', async () => {
      for (const [module, metadata] of [['oidcc-registration-logo-uri', { logo_uri: 'https://suite.example.org/images/openid.png' }], ['oidcc-registration-policy-uri', { policy_uri: 'https://suite.example.org/login.html' }], ['oidcc-registration-tos-uri', { tos_uri: 'https://openid.net' }]] as const) {
        const b = await suiteBrowser('oidcc-dynamic.json', module)
        await b.goTo(authUrl(await c.register(metadata)).href)
        screenshot(b, /.+/)
        assert.match(b.page.url(), /\/interaction\//)
      }
    })

    describe('RP-initiated logout', () => {
      const POST_LOGOUT = `${SUITE}/post_logout_redirect`
      /** The module's own login steps, then the id token the suite would hold. */
      async function loggedIn(module: string) {
        const rp = await c.register({ post_logout_redirect_uris: [POST_LOGOUT] })
        const b = await suiteBrowser('oidcc-rp-initiated-logout.json', module)
        const url = authUrl(rp)
        await b.goTo(url.href)
        const tokens = await c.exchange(rp, { callback: callback(b), state: url.searchParams.get('state')!, nonce: url.searchParams.get('nonce')! })
        return { b, rp, idToken: tokens.id_token! }
      }
      const endSession = (params: Record<string, string>) => `${c.issuer}/session/end?${new URLSearchParams(params)}`

      it('oidcc-rp-initiated-logout: confirmed, then back at the suite with the state', async () => {
        const { b, idToken } = await loggedIn('oidcc-rp-initiated-logout')
        await b.goTo(endSession({ id_token_hint: idToken, post_logout_redirect_uri: POST_LOGOUT, state: 'bye' }))
        assert.equal(b.page.url(), `${POST_LOGOUT}?state=bye`)
      })

      it('the modules PostCert answers with an error page capture it', async () => {
        const forged = await new jose.SignJWT({ sub: 'SubjectID', nonce: 'flibble' }).setProtectedHeader({ alg: 'RS256' })
          .setIssuer('someone').setAudience(c.issuer).setIssuedAt().setExpirationTime('5m').sign((await clientKey('RS256')).privateKey)
        for (const [module, params] of [
          ['oidcc-rp-initiated-logout-bad-post-logout-redirect-uri', (t: string) => ({ id_token_hint: t, post_logout_redirect_uri: `${SUITE}/bad_post_logout_redirect_uri`, state: 's' })],
          ['oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri', (t: string) => ({ id_token_hint: t, post_logout_redirect_uri: `${POST_LOGOUT}?foo=bar`, state: 's' })],
          ['oidcc-rp-initiated-logout-modified-id-token-hint', (t: string) => ({ id_token_hint: `${Buffer.from('{"alg":"none"}').toString('base64url')}.${t.split('.')[1]}.`, post_logout_redirect_uri: POST_LOGOUT, state: 's' })],
          ['oidcc-rp-initiated-logout-bad-id-token-hint', () => ({ id_token_hint: forged, post_logout_redirect_uri: POST_LOGOUT, state: 's' })],
        ] as const) {
          const { b, idToken } = await loggedIn(module)
          await b.goTo(endSession(params(idToken)))
          screenshot(b, /^invalid_\w+$/)
          assert.ok(b.page.url().startsWith(`${c.issuer}/session/end`), `${module}: no redirect`)
        }
      })

      it('oidcc-rp-initiated-logout-no-id-token-hint: the confirmation is the screenshot, and nobody is sent back', async () => {
        const { b } = await loggedIn('oidcc-rp-initiated-logout-no-id-token-hint')
        await b.goTo(endSession({ post_logout_redirect_uri: POST_LOGOUT, state: 's' }))
        const shot = screenshot(b, /.+/)
        assert.ok(shot.url.startsWith(`${c.issuer}/session/end?`), `the confirmation page, not ${shot.url}`)
        assert.equal(new URL(b.page.url()).pathname, '/session/end/success')
      })

      it('no-params, no-post-logout-redirect-uri, only-state: the logged-out page is the screenshot', async () => {
        for (const [module, params] of [
          ['oidcc-rp-initiated-logout-no-params', () => ({})],
          ['oidcc-rp-initiated-logout-no-post-logout-redirect-uri', (t: string) => ({ id_token_hint: t, state: 's' })],
          ['oidcc-rp-initiated-logout-only-state', () => ({ state: 's' })],
        ] as const) {
          const { b, idToken } = await loggedIn(module)
          await b.goTo(endSession(params(idToken)))
          const shot = screenshot(b, /.+/)
          assert.equal(new URL(shot.url).pathname, '/session/end/success', module)
        }
      })
    })
  })

  describe('FAPI 2.0 plan', () => {
    const FILE = 'fapi2-security-profile-final.json'
    let rp1: Rp
    let rp2: Rp
    before(async () => {
      const fapi = { token_endpoint_auth_method: 'private_key_jwt', grant_types: ['authorization_code', 'refresh_token'] }
      rp1 = await c.register(fapi, { iat: { fapi: true }, alg: 'PS256' })
      rp2 = await c.register(fapi, { iat: { fapi: true }, alg: 'PS256' })
    })

    /** The authorization request pushed (PAR), as every FAPI module sends it; the URL the browser visits. */
    async function pushed(rp: Rp): Promise<URL> {
      const verifier = client.randomPKCECodeVerifier()
      return await client.buildAuthorizationUrlWithPAR(rp.config, {
        redirect_uri: rp.redirectUri, scope: 'openid', state: client.randomState(), nonce: client.randomNonce(),
        code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      })
    }

    it('the default steps reach the callback with a code', async () => {
      const b = await suiteBrowser(FILE, 'fapi2-security-profile-final-happy-flow')
      await b.goTo((await pushed(rp1)).href)
      assert.ok(callback(b).searchParams.get('code'))
    })

    it('user-rejects-authentication cancels the login: access_denied at the callback', async () => {
      const b = await suiteBrowser(FILE, 'fapi2-security-profile-final-user-rejects-authentication')
      await b.goTo((await pushed(rp1)).href)
      assert.equal(callback(b).searchParams.get('error'), 'access_denied')
    })

    it('par-ensure-reused-request-uri-prior-to-auth-completion-succeeds: no login at the first visit, a login at the second', async () => {
      const b = await suiteBrowser(FILE, 'fapi2-security-profile-final-par-ensure-reused-request-uri-prior-to-auth-completion-succeeds')
      const url = (await pushed(rp1)).href
      await b.goTo(url)
      assert.match(b.page.url(), /\/interaction\//, 'the login page, and nothing done on it')
      await b.goTo(url)
      assert.ok(callback(b).searchParams.get('code'))
      assert.equal(b.visited.filter((v) => v === url).length, 2)
    })

    it('par-attempt-to-use-request_uri-for-different-client: the error page is the screenshot', async () => {
      const b = await suiteBrowser(FILE, 'fapi2-security-profile-final-par-attempt-to-use-request_uri-for-different-client')
      const byOther = await pushed(rp1)
      const url = new URL(`${c.issuer}/auth`)
      url.searchParams.set('client_id', rp2.clientId)
      url.searchParams.set('request_uri', byOther.searchParams.get('request_uri')!)
      await b.goTo(url.href)
      screenshot(b, /^invalid_(redirect_uri|request_uri|request_object|request|client)$/)
      assert.match(await b.page.locator('#error-reason').innerText(), /pushed request \(request_uri\) was made by another institution|다른 기관/)
    })
  })
})
