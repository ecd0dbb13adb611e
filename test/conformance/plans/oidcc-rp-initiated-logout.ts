import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import * as jose from 'jose'
import type request from 'supertest'
import { Conformance, SUITE, type Rp, type Step } from '../harness.ts'
import type { PlanSpec } from '../plan.ts'
import { deployedDiscovery } from './oidcc-dynamic.ts'

/** Where the suite takes the browser after logout (`<base>/post_logout_redirect`). */
export const POST_LOGOUT = `${SUITE}/post_logout_redirect`

/** What a browser sends: error pages of the end-session endpoint are HTML for it, JSON for API callers. */
const HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'

/** The errors a prompt=none request may answer once the user is logged out (OIDC Core 3.1.2.6). */
const UI_REQUIRED = ['interaction_required', 'login_required', 'account_selection_required', 'consent_required']

/**
 * The client a logout module registers: the suite's registration request (an RS256 public key
 * in `jwks` whatever the auth method, contacts, client_secret_basic) with the post-logout
 * redirect URI, and `extra` (the back-channel plan's logout URI).
 */
export async function logoutClient(c: Conformance, extra: Record<string, unknown> = {}): Promise<Rp & { key: NonNullable<Rp['key']> }> {
  // The module's own client (deleted when it ends), with the post-logout redirect URI.
  const rp = await c.suiteClient({ post_logout_redirect_uris: [POST_LOGOUT], ...extra })
  const key = rp.key!
  assert.deepEqual(rp.registered.post_logout_redirect_uris, [POST_LOGOUT])
  assert.ok(rp.registered.client_secret && rp.registered.client_secret_expires_at !== undefined, 'a secret with its expiry')
  return { ...rp, key }
}

/** Step 1 of every logout module: a normal code flow with a 128-character state (the OP must not corrupt it). */
export async function logIn(c: Conformance, rp: Rp) {
  const browser = c.browser()
  const state = randomBytes(96).toString('base64url')
  assert.equal(state.length, 128)
  const flow = await c.codeFlow(rp, { state }, browser)
  assert.equal(flow.callback.searchParams.get('state'), state)
  return { browser, tokens: flow.tokens, idToken: flow.tokens.id_token! }
}

/** The suite's end-session state: 50 printable characters (RFC 6749 VSCHAR) without '+', ' ' and ';'. */
export function endSessionState(): string {
  return [...randomBytes(50)].map((b) => String.fromCharCode(0x20 + (b % 95))).join('').replace(/[+ ;]/g, '~')
}

/** The browser goes to end_session_endpoint with these parameters (undefined ones left out). */
export async function endSession(c: Conformance, browser: request.Agent, params: Record<string, string | undefined>): Promise<Step> {
  const query = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined))
  const res = await browser.get(`/session/end${query.size ? `?${query}` : ''}`).set('Accept', HTML)
  return await c.follow(browser, res)
}

/**
 * The user answers PostCert's logout confirmation as the suite's browser does: the page names
 * the form op.logoutForm, the autofocused button submits it with logout=yes.
 */
export async function confirmLogout(c: Conformance, browser: request.Agent, step: Step): Promise<Step> {
  assert.equal(step.callback, undefined, `no redirect before the user confirms, not ${step.callback}`)
  assert.equal(step.status, 200, 'the logout confirmation page')
  const page = step.page!
  const form = page.match(/<form id="op\.logoutForm" method="post" action="([^"]+)">(.*?)<\/form>/s)
  assert.ok(form, 'the logout form')
  const xsrf = form[2]!.match(/name="xsrf" value="([^"]+)"/)?.[1]
  assert.ok(xsrf, 'the form carries its xsrf token')
  assert.match(page, /<button type="submit" form="op\.logoutForm" value="yes" name="logout" [^>]*autofocus>/, 'the autofocused button logs out')
  const action = new URL(form[1]!)
  assert.equal(action.origin, new URL(c.issuer).origin)
  const res = await browser.post(action.pathname).type('form').set('Accept', HTML).send({ xsrf, logout: 'yes' })
  assert.equal(res.status, 303)
  return await c.follow(browser, res)
}

/** The post-logout redirect the module waits for: the registered URI, with `state` (or none) and nothing else. */
export function postLogoutRedirect(step: Step, state: string | undefined): void {
  assert.ok(step.callback, `redirected back to the relying party, not ${step.status} ${step.path}`)
  assert.equal(`${step.callback.origin}${step.callback.pathname}`, POST_LOGOUT)
  assert.equal(step.callback.searchParams.get('state'), state ?? null, state === undefined ? 'CheckNoPostLogoutState' : 'CheckPostLogoutState')
  const unexpected = [...step.callback.searchParams.keys()].filter((k) => k !== 'state')
  assert.deepEqual(unexpected, [], 'no unexpected parameters (CheckForUnexpectedParametersInPostLogoutRedirect)')
}

/** A module that expects no redirect but an error page; returns the error code shown. */
export function logoutErrorPage(step: Step): string {
  const page = Conformance.errorPage(step)
  const code = page.match(/<code id="error-code">([^<]+)<\/code>/)?.[1]
  assert.ok(code, 'an error page with its code')
  return code
}

/** PostCert's "you are logged out" page, where the browser ends when no redirect was asked for. */
export function loggedOutPage(step: Step): void {
  assert.equal(step.callback, undefined, `no redirect to ${step.callback}`)
  assert.equal(step.status, 200)
  assert.equal(step.path, '/session/end/success')
  assert.match(step.page!, /id="logged-out"/)
}

/** The last step of the modules that log out: prompt=none must now ask for a user interface. */
export async function promptNoneFails(c: Conformance, rp: Rp, browser: request.Agent): Promise<void> {
  const { step, state } = await c.authorize(rp, { prompt: 'none' }, browser)
  const error = c.authorizationError(step.callback, state)
  assert.ok(UI_REQUIRED.includes(error), `a user-interface error, not ${error} (CheckErrorFromAuthorizationEndpointIsOneThatRequiredAUserInterface)`)
  assert.equal(step.callback!.searchParams.get('iss'), c.issuer)
  const description = step.callback!.searchParams.get('error_description')
  if (description !== null) assert.match(description, /^[\x20-\x21\x23-\x5B\x5D-\x7E]*$/)
}

/** A module sending the end-session request built from `params`, for which the OP must show an error page. */
async function refusedLogout(c: Conformance, params: (rp: Rp & { key: NonNullable<Rp['key']> }, idToken: string) => Promise<Record<string, string | undefined>>) {
  const rp = await logoutClient(c)
  const { browser, idToken } = await logIn(c, rp)
  return logoutErrorPage(await endSession(c, browser, await params(rp, idToken)))
}

/** The ID token re-encoded with alg none (ChangeIdTokenToAlgNone). */
function algNone(idToken: string): string {
  return `${Buffer.from('{"alg": "none"}').toString('base64url')}.${idToken.split('.')[1]}.`
}

/** GenerateFakeIdTokenClaims + SignFakeIdToken: an ID token "issued" by the client with its own key, aud and iss swapped. */
async function fakeIdToken(c: Conformance, rp: Rp & { key: NonNullable<Rp['key']> }): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return await new jose.SignJWT({ nonce: 'flibble' }).setProtectedHeader({ alg: 'RS256', kid: String(rp.key.jwk.kid) })
    .setIssuer(rp.clientId).setSubject('SubjectID').setAudience(c.issuer).setIssuedAt(now).setExpirationTime(now + 300).sign(rp.key.privateKey)
}

/** The discovery checks of the logout plans, on PostCert as deployed (an https issuer behind its TLS proxy). */
export async function logoutDiscovery(extra: (m: Record<string, any>) => void = () => {}): Promise<void> {
  await deployedDiscovery(async (get, issuer) => {
    const m = (await get('/.well-known/openid-configuration').expect(200)).body
    assert.equal(m.issuer, issuer)
    const endpoints = Object.keys(m).filter((k) => k.endsWith('_endpoint'))
    assert.ok(endpoints.length >= 5)
    for (const key of endpoints) assert.equal(new URL(m[key]).protocol, 'https:', `${key} is https (CheckDiscEndpointAllEndpointsAreHttps)`)
    assert.equal(m.end_session_endpoint, `${issuer}/session/end`, 'CheckDiscEndSessionEndpoint')
    extra(m)
  })
}

export const OIDCC_RP_INITIATED_LOGOUT: PlanSpec = {
  name: 'oidcc-rp-initiated-logout-certification-test-plan',
  variant: 'server_metadata=discovery, client_registration=dynamic_client, response_type=code (client_auth_type=client_secret_basic, response_mode=default)',
  authMethod: 'client_secret_basic',
  modules: {
    'oidcc-rp-initiated-logout-discovery-endpoint-verification': {
      status: 'passes',
      note: 'run against an https issuer behind the TLS proxy, as deployed',
      conditions: ['CheckDiscEndpointAllEndpointsAreHttps', 'CheckDiscEndSessionEndpoint'],
      test: async () => { await logoutDiscovery() },
    },
    'oidcc-rp-initiated-logout': {
      status: 'passes',
      note: 'PostCert asks the user to confirm; the suite\'s browser clicks the autofocused button (logout=yes)',
      conditions: ['CheckPostLogoutState', 'CheckForUnexpectedParametersInPostLogoutRedirect', 'CheckErrorFromAuthorizationEndpointIsOneThatRequiredAUserInterface'],
      test: async (c) => {
        const rp = await logoutClient(c)
        const { browser, idToken } = await logIn(c, rp)
        const state = endSessionState()
        const step = await confirmLogout(c, browser, await endSession(c, browser, { id_token_hint: idToken, post_logout_redirect_uri: POST_LOGOUT, state }))
        postLogoutRedirect(step, state)
        await promptNoneFails(c, rp, browser)
      },
    },
    'oidcc-rp-initiated-logout-bad-post-logout-redirect-uri': {
      status: 'passes',
      note: 'an error page (invalid_request; oidc-provider\'s reason, post_logout_redirect_uri not registered, is not shown on it)',
      test: async (c) => {
        const code = await refusedLogout(c, async (_rp, idToken) => ({ id_token_hint: idToken, post_logout_redirect_uri: `${SUITE}/bad_post_logout_redirect_uri`, state: endSessionState() }))
        assert.equal(code, 'invalid_request')
      },
    },
    'oidcc-rp-initiated-logout-modified-id-token-hint': {
      status: 'passes',
      note: 'an error page (invalid_request: the id_token_hint does not validate)',
      test: async (c) => {
        const code = await refusedLogout(c, async (_rp, idToken) => ({ id_token_hint: algNone(idToken), post_logout_redirect_uri: POST_LOGOUT, state: endSessionState() }))
        assert.equal(code, 'invalid_request')
      },
    },
    'oidcc-rp-initiated-logout-no-id-token-hint': {
      status: 'passes',
      note: 'without id_token_hint the post_logout_redirect_uri is ignored: the confirmation page, then the logged-out page, never a redirect',
      test: async (c) => {
        const rp = await logoutClient(c)
        const { browser } = await logIn(c, rp)
        const step = await endSession(c, browser, { post_logout_redirect_uri: POST_LOGOUT, state: endSessionState() })
        loggedOutPage(await confirmLogout(c, browser, step))
        await promptNoneFails(c, rp, browser)
      },
    },
    'oidcc-rp-initiated-logout-no-params': {
      status: 'passes',
      note: 'the confirmation page, then the logged-out page (#logged-out)',
      test: async (c) => {
        const rp = await logoutClient(c)
        const { browser } = await logIn(c, rp)
        loggedOutPage(await confirmLogout(c, browser, await endSession(c, browser, {})))
        await promptNoneFails(c, rp, browser)
      },
    },
    'oidcc-rp-initiated-logout-no-post-logout-redirect-uri': {
      status: 'passes',
      note: 'the confirmation page, then the logged-out page',
      test: async (c) => {
        const rp = await logoutClient(c)
        const { browser, idToken } = await logIn(c, rp)
        loggedOutPage(await confirmLogout(c, browser, await endSession(c, browser, { id_token_hint: idToken, state: endSessionState() })))
        await promptNoneFails(c, rp, browser)
      },
    },
    'oidcc-rp-initiated-logout-no-state': {
      status: 'passes',
      conditions: ['CheckNoPostLogoutState', 'CheckForUnexpectedParametersInPostLogoutRedirect', 'CheckErrorFromAuthorizationEndpointIsOneThatRequiredAUserInterface'],
      test: async (c) => {
        const rp = await logoutClient(c)
        const { browser, idToken } = await logIn(c, rp)
        const step = await confirmLogout(c, browser, await endSession(c, browser, { id_token_hint: idToken, post_logout_redirect_uri: POST_LOGOUT }))
        postLogoutRedirect(step, undefined)
        await promptNoneFails(c, rp, browser)
      },
    },
    'oidcc-rp-initiated-logout-only-state': {
      status: 'passes',
      note: 'the confirmation page, then the logged-out page',
      test: async (c) => {
        const rp = await logoutClient(c)
        const { browser } = await logIn(c, rp)
        loggedOutPage(await confirmLogout(c, browser, await endSession(c, browser, { state: endSessionState() })))
        await promptNoneFails(c, rp, browser)
      },
    },
    'oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri': {
      status: 'passes',
      note: 'an error page (invalid_request: the URI with ?foo=bar is not registered)',
      test: async (c) => {
        const code = await refusedLogout(c, async (_rp, idToken) => ({ id_token_hint: idToken, post_logout_redirect_uri: `${POST_LOGOUT}?foo=bar`, state: endSessionState() }))
        assert.equal(code, 'invalid_request')
      },
    },
    'oidcc-rp-initiated-logout-bad-id-token-hint': {
      status: 'passes',
      note: 'an ID token signed with the client\'s key (aud the issuer) gets an error page (invalid_client: unrecognized id_token_hint audience)',
      test: async (c) => {
        const code = await refusedLogout(c, async (rp) => ({ id_token_hint: await fakeIdToken(c, rp), post_logout_redirect_uri: POST_LOGOUT, state: endSessionState() }))
        assert.equal(code, 'invalid_client')
      },
    },
  },
}
