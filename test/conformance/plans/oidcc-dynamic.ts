import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { isDeepStrictEqual } from 'node:util'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import * as jose from 'jose'
import * as client from 'openid-client'
import request from 'supertest'
import { startHttpsSite, type HttpsSite } from '../../helpers/https-site.ts'
import { startTestServer } from '../../helpers/server.ts'
import { checkIdToken, checkServerJwks, checkTokenError, unguessable } from '../checks.ts'
import { clientKey, Conformance, SUITE, type Rp } from '../harness.ts'
import type { PlanSpec } from '../plan.ts'
import { checkRefreshResponse, checkUserinfo, compareIdTokenClaims, onlyRequestedClaims, REFRESH_CONDITIONS, USERINFO_CONDITIONS } from './oidcc-basic.ts'
import { checkDiscovery, DISCOVERY_CONDITIONS } from './oidcc-config.ts'

/** PostCert as deployed: an https issuer behind its TLS proxy (the suite refuses http endpoints). */
const DEPLOYED_ISSUER = 'https://id.postcert.test'

/**
 * The https checks of a discovery module, on a second in-process PostCert configured as deployed
 * (PUBLIC_URL https, TRUST_PROXY) and reached as its TLS proxy forwards requests.
 */
export async function deployedDiscovery<T>(use: (get: (path: string) => request.Test, issuer: string) => Promise<T>): Promise<T> {
  const server = await startTestServer({ env: { PUBLIC_URL: DEPLOYED_ISSUER, TRUST_PROXY: 'true' } })
  try {
    return await use((path) => request(server.url).get(path).set('X-Forwarded-Proto', 'https').set('Host', new URL(DEPLOYED_ISSUER).host), DEPLOYED_ISSUER)
  } finally {
    await server.close()
  }
}

type Key = NonNullable<Rp['key']>

/** A plain http site on 127.0.0.1 for the suite's `<base>/client1_jwks`, counting PostCert's fetches. */
interface JwksHost {
  url: (path: string) => string
  serve: (path: string, keys: Key[]) => void
  hits: (path: string) => number
  close: () => Promise<void>
}

async function startJwksHost(): Promise<JwksHost> {
  const documents = new Map<string, string>()
  const hits = new Map<string, number>()
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname
    hits.set(path, (hits.get(path) ?? 0) + 1)
    const body = documents.get(path)
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' }).end(body ?? '{}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url: (path) => `${origin}${path}`,
    serve: (path, keys) => { documents.set(path, JSON.stringify({ keys: keys.map((k) => k.jwk) })) },
    hits: (path) => hits.get(path) ?? 0,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

let site: HttpsSite
let jwksHost: JwksHost
let metadata: Record<string, any>

/**
 * The suite's client key: RS256 without a kid when sent by value (GenerateRS256ClientJWKs), with
 * its thumbprint as kid when published at a jwks_uri (GenerateRS256ClientJWKsWithKeyID).
 */
async function suiteKey(withKid: boolean): Promise<Key> {
  const key = await clientKey('RS256')
  delete key.jwk.kid
  if (withKid) key.jwk.kid = await jose.calculateJwkThumbprint(key.jwk as jose.JWK)
  return key
}

/**
 * openid-client as the suite's relying party: private_key_jwt with the token endpoint as the
 * assertion's audience (CreateClientAuthenticationAssertionClaims).
 */
async function suiteRp(c: Conformance, registered: Record<string, any>, key: Key): Promise<Rp> {
  const kid = typeof key.jwk.kid === 'string' ? key.jwk.kid : undefined
  const auth = client.PrivateKeyJwt({ key: key.privateKey, kid }, {
    [client.modifyAssertion]: (_header, payload) => { payload.aud = metadata.token_endpoint },
  })
  const config = await client.discovery(new URL(c.issuer), registered.client_id, { id_token_signed_response_alg: registered.id_token_signed_response_alg }, auth, { execute: [client.allowInsecureRequests] })
  return { config, clientId: registered.client_id, registered, redirectUri: registered.redirect_uris[0], key }
}

/** The registration request of OIDCCCreateDynamicClientRegistrationRequest (response_type code, private_key_jwt), with `extra`. */
function registrationRequest(keys: { jwks: Key } | { jwksUri: string }, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    client_name: 'OpenID conformance suite, client 1', grant_types: ['authorization_code'],
    ...('jwks' in keys ? { jwks: { keys: [keys.jwks.jwk] } } : { jwks_uri: keys.jwksUri }),
    token_endpoint_auth_method: 'private_key_jwt', response_types: ['code'], redirect_uris: [`${SUITE}/callback`],
    contacts: ['certification@oidf.org'], ...extra,
  }
}

/** A module's own client, registered as the suite registers it. */
async function register(c: Conformance, extra: Record<string, unknown> = {}, jwksUri?: { path: string }): Promise<Rp> {
  const key = await suiteKey(jwksUri !== undefined)
  if (jwksUri) jwksHost.serve(jwksUri.path, [key])
  const body = registrationRequest(jwksUri ? { jwksUri: jwksHost.url(jwksUri.path) } : { jwks: key }, extra)
  return await suiteRp(c, c.registered(await c.registration(body)), key)
}

/** Cleanup (UnregisterDynamicallyRegisteredClient): anything but 204 is a warning in the suite. */
async function unregister(c: Conformance, rp: Rp): Promise<void> {
  await request(c.url).delete(new URL(rp.registered.registration_client_uri).pathname)
    .set('Authorization', `Bearer ${rp.registered.registration_access_token}`).expect(204)
}

/** PostCert's published keys. */
async function serverJwks(c: Conformance): Promise<jose.JSONWebKeySet> {
  return (await request(c.url).get(new URL(metadata.jwks_uri).pathname).expect(200)).body
}

/** PerformStandardIdTokenChecks' signature check: the ID token verifies against the JWKS with the registered algorithm. */
async function verifyIdToken(c: Conformance, rp: Rp, idToken: string, nonce?: string, { fromRefresh = false } = {}) {
  const protectedHeader = jose.decodeProtectedHeader(idToken)
  assert.equal(protectedHeader.alg, rp.registered.id_token_signed_response_alg, 'signed as the client registered (CheckIdTokenSignatureAlgorithm)')
  const payload = await checkIdToken(idToken, { issuer: c.issuer, clientId: rp.clientId, jwks: await serverJwks(c), nonce, checkNonce: !fromRefresh })
  return { payload, protectedHeader }
}

/** oidcc-server's flow: authorize, log in, exchange (private_key_jwt), check the ID token, call userinfo. */
async function serverFlow(c: Conformance, rp: Rp, params: Record<string, string | undefined> = {}) {
  const flow = await c.codeFlow(rp, params)
  unguessable(flow.callback.searchParams.get('code') ?? undefined, 'the code (EnsureMinimumAuthorizationCode{Length,Entropy})')
  assert.equal(flow.callback.searchParams.get('iss'), c.issuer)
  assert.ok(flow.tokens.access_token)
  assert.ok(flow.tokens.expires_in && flow.tokens.expires_in > 0, 'ExtractExpiresInFromTokenEndpointResponse')
  const idToken = await verifyIdToken(c, rp, flow.tokens.id_token!, flow.nonce)
  assert.equal(flow.userinfo.sub, idToken.payload.sub)
  return { ...flow, idToken }
}

/** A client assertion as the suite signs it (iss = sub = client_id, aud the token endpoint, 60 s). */
async function assertion(rp: Rp, key: Key, audience: string = metadata.token_endpoint): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return await new jose.SignJWT({ jti: randomBytes(15).toString('base64url') })
    .setProtectedHeader({ alg: 'RS256', ...(typeof key.jwk.kid === 'string' ? { kid: key.jwk.kid } : {}) })
    .setIssuer(rp.clientId).setSubject(rp.clientId).setAudience(audience)
    .setIssuedAt(now).setNotBefore(now).setExpirationTime(now + 60).sign(key.privateKey)
}

/** A token request authenticated with private_key_jwt, answered as it is. */
async function tokenRequest(c: Conformance, rp: Rp, key: Key, form: Record<string, string>, audience?: string) {
  return await request(c.url).post(new URL(metadata.token_endpoint).pathname).type('form')
    .send({ ...form, client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await assertion(rp, key, audience) })
}

/**
 * The code exchange as the suite sends it, with the registered redirect_uri as it is (openid-client
 * would drop its query), and the checks of AbstractOIDCCServerTest on the response.
 */
async function exchangeAsSent(c: Conformance, rp: Rp, flow: { callback: URL; state?: string; nonce?: string }, audience?: string) {
  assert.equal(flow.callback.searchParams.get('state'), flow.state ?? null)
  assert.equal(flow.callback.searchParams.get('iss'), c.issuer)
  const code = flow.callback.searchParams.get('code')
  assert.ok(code, flow.callback.href)
  const res = await tokenRequest(c, rp, rp.key!, { grant_type: 'authorization_code', code, redirect_uri: rp.redirectUri }, audience)
  assert.equal(res.status, 200, res.text)
  assert.equal(res.body.error, undefined, 'CheckIfTokenEndpointResponseError')
  assert.ok(res.body.access_token, 'CheckForAccessTokenValue')
  assert.ok(res.body.expires_in > 0, 'ValidateExpiresIn')
  const idToken = await verifyIdToken(c, rp, res.body.id_token, flow.nonce)
  return { tokens: res.body as { access_token: string; id_token: string }, idToken }
}

/** A login asking for a refresh token (offline_access with prompt=consent) and the code exchange. */
async function offlineLogin(c: Conformance, rp: Rp, params: Record<string, string> = {}) {
  const flow = await c.authorizeAndLogin(rp, { scope: 'openid offline_access', prompt: 'consent', ...params })
  const tokens = await c.exchange(rp, flow)
  assert.ok(tokens.refresh_token, 'a refresh token (ExtractRefreshTokenFromTokenResponse)')
  assert.match(tokens.refresh_token, /^[\x20-\x7E]+$/, 'EnsureRefreshTokenContainsAllowedCharactersOnly')
  return { flow, tokens, idToken: (await verifyIdToken(c, rp, tokens.id_token!, flow.nonce)).payload }
}

/** RefreshTokenRequestSteps: a refresh (with the scope for the first client) that must succeed, and CompareIdTokenClaims. */
async function refresh(c: Conformance, rp: Rp, key: Key, refreshToken: string, first: { access_token: string; idToken: jose.JWTPayload }, scope?: string) {
  assert.ok(metadata.grant_types_supported.includes('refresh_token'), 'EnsureServerConfigurationSupportsRefreshToken')
  const res = await tokenRequest(c, rp, key, { grant_type: 'refresh_token', refresh_token: refreshToken, ...(scope ? { scope } : {}) })
  assert.equal(res.status, 200, res.text)
  checkRefreshResponse(res, first.access_token)
  if (res.body.id_token) {
    const second = (await verifyIdToken(c, rp, res.body.id_token, undefined, { fromRefresh: true })).payload
    compareIdTokenClaims(first.idToken, second)
  }
  // requestProtectedResource with the new access token.
  await request(c.url).get(new URL(metadata.userinfo_endpoint).pathname).set('Authorization', `Bearer ${res.body.access_token}`).expect(200)
  return res.body as { access_token: string; refresh_token?: string }
}

/** The login page a registration module's browser shows (a fresh browser, as the module asks). */
async function loginPage(c: Conformance, rp: Rp) {
  const { step, browser } = await c.authorize(rp)
  assert.equal(step.callback, undefined, 'no callback before the user logs in')
  assert.equal(step.status, 200)
  assert.match(step.path!, /^\/interaction\//, 'the login page')
  const res = await browser.get(step.path!).expect(200)
  return { page: res.text, csp: String(res.headers['content-security-policy']) }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The suite's module JWKS for oidcc-server-rotate-keys: the public members and kid of its signing keys (AbstractCompareJwks). */
function signingKeys(jwks: jose.JSONWebKeySet): string[] {
  return jwks.keys.filter((k) => k.use === undefined || k.use === 'sig').map((k) => JSON.stringify(
    k.kty === 'RSA' ? { e: k.e, kty: k.kty, n: k.n, kid: k.kid } : { crv: k.crv, kty: k.kty, x: k.x, y: k.y, kid: k.kid }))
}

export const OIDCC_DYNAMIC: PlanSpec = {
  name: 'oidcc-dynamic-certification-test-plan',
  variant: 'response_type=code (server_metadata=discovery, client_auth_type=private_key_jwt, client_registration=dynamic_client, response_mode=default)',
  authMethod: 'private_key_jwt',
  // The suite's site: sector documents over https (site.fetch trusts it), client JWKS over http.
  server: async () => {
    site = await startHttpsSite()
    jwksHost = await startJwksHost()
    return { overrides: { fetch: site.fetch } }
  },
  setup: async (c) => { metadata = await c.discovery() },
  teardown: async () => {
    await site?.close()
    await jwksHost?.close()
  },
  modules: {
    'oidcc-idtoken-rs256': {
      status: 'passes',
      conditions: ['EnsureIdTokenContainsKid', 'CheckIdTokenSignatureAlgorithm'],
      test: async (c) => {
        const rp = await register(c, { id_token_signed_response_alg: 'RS256' })
        const { idToken } = await serverFlow(c, rp)
        assert.ok(idToken.protectedHeader.kid, 'EnsureIdTokenContainsKid')
        assert.equal(idToken.protectedHeader.alg, 'RS256', 'CheckIdTokenSignatureAlgorithm')
        await unregister(c, rp)
      },
    },
    'oidcc-idtoken-unsigned': {
      status: 'skipped by the suite',
      note: '`none` is not in id_token_signing_alg_values_supported; registering it is refused',
      conditions: ['OIDCCCheckIdTokenSigningAlgValuesSupportedAlgNone'],
      test: async (c) => {
        assert.ok(!metadata.id_token_signing_alg_values_supported.includes('none'), 'OIDCCCheckIdTokenSigningAlgValuesSupportedAlgNone')
        const res = await c.registration(registrationRequest({ jwks: await suiteKey(false) }, { id_token_signed_response_alg: 'none' }))
        assert.equal(res.status, 400)
        assert.equal(res.body.error, 'invalid_client_metadata')
      },
    },
    'oidcc-userinfo-rs256': {
      status: 'passes',
      conditions: ['CheckDiscEndpointUserinfoSigningAlgValuesSupportedContainsRS256', 'EnsureContentTypeApplicationJwt', 'ValidateUserInfoResponseSignature', 'ValidateUserInfoSigningAlgIsRS256',
        'ValidateSignedUserInfoResponseStandardJWTClaims', 'EnsureUserInfoDoesNotContainNonce', ...USERINFO_CONDITIONS],
      test: async (c) => {
        assert.ok(metadata.userinfo_signing_alg_values_supported.includes('RS256'), 'CheckDiscEndpointUserinfoSigningAlgValuesSupportedContainsRS256')
        const rp = await register(c, { userinfo_signed_response_alg: 'RS256' })
        const flow = await c.authorizeAndLogin(rp)
        const tokens = await c.exchange(rp, flow)
        const sub = (await verifyIdToken(c, rp, tokens.id_token!, flow.nonce)).payload.sub
        const res = await request(c.url).get(new URL(metadata.userinfo_endpoint).pathname).set('Authorization', `Bearer ${tokens.access_token}`).expect(200)
        assert.match(String(res.headers['content-type']), /^application\/jwt/, 'EnsureContentTypeApplicationJwt')
        const { payload, protectedHeader } = await jose.jwtVerify(res.text, jose.createLocalJWKSet(await serverJwks(c)), { algorithms: ['RS256'] })
        assert.equal(protectedHeader.alg, 'RS256', 'ValidateUserInfoSigningAlgIsRS256')
        // ValidateSignedUserInfoResponseStandardJWTClaims: iss, aud, and exp, iat, nbf (when present) within their bounds.
        const now = Date.now() / 1000
        assert.equal(payload.iss, c.issuer, 'ValidateSignedUserInfoResponseStandardJWTClaims')
        assert.ok(payload.aud === rp.clientId || (Array.isArray(payload.aud) && payload.aud.includes(rp.clientId)), 'aud')
        if (payload.exp !== undefined) assert.ok(payload.exp > now - 300 && payload.exp < now + 50 * 365 * 86400, 'exp')
        if (payload.iat !== undefined) assert.ok(payload.iat < now + 300 && payload.iat > now - 86400, 'iat')
        if (payload.nbf !== undefined) assert.ok(payload.nbf < now + 300, 'nbf')
        assert.equal(payload.sub, sub)
        assert.ok(!('nonce' in payload), 'EnsureUserInfoDoesNotContainNonce')
        checkUserinfo(payload)
        await unregister(c, rp)
      },
    },
    'oidcc-ensure-redirect-uri-in-authorization-request': {
      status: 'passes',
      note: 'two redirect URIs on different hosts and no sector document: PostCert gives the pairwise client a sector of its own',
      conditions: ['AuthorizationEndpointRedirectedBackUnexpectedly'],
      test: async (c) => {
        const redirectUris = [`${SUITE}/callback`, 'https://example.org/redirect']
        const key = await suiteKey(false)
        const rp = await suiteRp(c, c.registered(await c.registration(registrationRequest({ jwks: key }, { redirect_uris: redirectUris }))), key)
        assert.equal(rp.registered.subject_type, 'pairwise')
        const { step } = await c.authorize(rp, { redirect_uri: undefined })
        // An error page, no redirect (AuthorizationEndpointRedirectedBackUnexpectedly).
        assert.match(Conformance.errorPage(step), /<code id="error-code">invalid_request<\/code>/)
        await unregister(c, rp)
      },
    },
    'oidcc-redirect-uri-query-OK': {
      status: 'passes',
      test: async (c) => {
        const rp = await register(c, { redirect_uris: [`${SUITE}/callback?bar=foo`] })
        const flow = await c.authorizeAndLogin(rp)
        assert.equal(`${flow.callback.origin}${flow.callback.pathname}`, `${SUITE}/callback`)
        assert.equal(flow.callback.searchParams.get('bar'), 'foo', 'the registered query is kept')
        const { tokens, idToken } = await exchangeAsSent(c, rp, flow)
        const userinfo = await request(c.url).get(new URL(metadata.userinfo_endpoint).pathname).set('Authorization', `Bearer ${tokens.access_token}`).expect(200)
        assert.equal(userinfo.body.sub, idToken.payload.sub)
        await unregister(c, rp)
      },
    },
    'oidcc-redirect-uri-query-mismatch': {
      status: 'passes',
      test: async (c) => {
        const rp = await register(c, { redirect_uris: [`${SUITE}/callback?bar=foo`] })
        const { step } = await c.authorize(rp, { redirect_uri: `${SUITE}/callback?foo=bar` })
        assert.match(Conformance.errorPage(step), /<code id="error-code">invalid_redirect_uri<\/code>/)
        await unregister(c, rp)
      },
    },
    'oidcc-redirect-uri-query-added': {
      status: 'passes',
      test: async (c) => {
        const rp = await register(c)
        const { step } = await c.authorize(rp, { redirect_uri: `${SUITE}/callback?foo=bar` })
        assert.match(Conformance.errorPage(step), /<code id="error-code">invalid_redirect_uri<\/code>/)
        await unregister(c, rp)
      },
    },
    'oidcc-redirect-uri-regfrag': {
      status: 'passes',
      conditions: ['EnsureContentTypeJson', 'EnsureHttpStatusCodeIs400', 'CheckErrorFromDynamicRegistrationEndpointIsInvalidRedirectUriOrInvalidClientMetadata'],
      test: async (c) => {
        const res = await c.registration(registrationRequest({ jwks: await suiteKey(false) }, { redirect_uris: [`${SUITE}/callback#foobar`] }))
        assert.equal(res.status, 400)
        assert.match(String(res.headers['content-type']), /^application\/json/)
        assert.ok(['invalid_redirect_uri', 'invalid_client_metadata'].includes(res.body.error), res.body.error)
      },
    },
    'oidcc-discovery-endpoint-verification': {
      status: 'not applicable',
      note: 'code flow only: response_types_supported is ["code"] and grant_types_supported has no implicit, where the dynamic profile asks for id_token, token id_token and the implicit grant; every other check holds (https issuer behind the TLS proxy)',
      conditions: [...DISCOVERY_CONDITIONS, 'OIDCCCheckDiscEndpointResponseTypesSupportedDynamic', 'OIDCCCheckDiscEndpointGrantTypesSupportedDynamic'],
      test: async (c) => {
        await deployedDiscovery(async (get, issuer) => {
          const m = await checkDiscovery(c, issuer, get)
          assert.deepEqual(m.response_types_supported, ['code'], 'OIDCCCheckDiscEndpointResponseTypesSupportedDynamic wants code, id_token, token id_token')
          assert.ok(m.grant_types_supported.includes('authorization_code'))
          assert.ok(!m.grant_types_supported.includes('implicit'), 'OIDCCCheckDiscEndpointGrantTypesSupportedDynamic wants implicit')
          assert.equal(new URL(m.registration_endpoint).protocol, 'https:', 'CheckDiscEndpointRegistrationEndpoint')
          assert.ok(Array.isArray(m.userinfo_signing_alg_values_supported))
          assert.equal(m.claims_parameter_supported, true)
        })
      },
    },
    'oidcc-server': {
      status: 'passes',
      conditions: ['EnsureMinimumAuthorizationCodeLength', 'EnsureMinimumAuthorizationCodeEntropy', 'ExtractExpiresInFromTokenEndpointResponse', 'EnsureIdTokenDoesNotContainName', 'EnsureIdTokenDoesNotContainNonRequestedClaims'],
      test: async (c) => {
        const rp = await register(c)
        const { idToken, params } = await serverFlow(c, rp)
        assert.ok(!('name' in idToken.payload), 'EnsureIdTokenDoesNotContainName')
        onlyRequestedClaims(idToken.payload, params.scope!)
        await unregister(c, rp)
      },
    },
    'oidcc-registration-logo-uri': {
      status: 'passes',
      note: 'the login page shows the institution\'s logo (a screenshot in the official run)',
      test: async (c) => {
        const logo = `${new URL(SUITE).origin}/images/openid.png`
        const rp = await register(c, { logo_uri: logo })
        assert.equal(rp.registered.logo_uri, logo)
        const { page, csp } = await loginPage(c, rp)
        assert.ok(page.includes(`<img src="${logo}"`), 'the logo is on the login page')
        assert.match(csp, /img-src [^;]*https:/, 'and the page may load it')
        await unregister(c, rp)
      },
    },
    'oidcc-registration-policy-uri': {
      status: 'passes',
      note: 'the login page links the institution\'s privacy policy (a screenshot in the official run)',
      test: async (c) => {
        const policy = `${new URL(SUITE).origin}/login.html`
        const rp = await register(c, { policy_uri: policy })
        assert.equal(rp.registered.policy_uri, policy)
        const { page } = await loginPage(c, rp)
        assert.ok(page.includes(`<a href="${policy}" id="institution-policy"`), 'the login page links policy_uri')
        await unregister(c, rp)
      },
    },
    'oidcc-registration-tos-uri': {
      status: 'passes',
      note: 'the login page links the institution\'s terms of service (a screenshot in the official run)',
      test: async (c) => {
        const tos = 'https://openid.net'
        const rp = await register(c, { tos_uri: tos })
        assert.equal(rp.registered.tos_uri, tos)
        const { page } = await loginPage(c, rp)
        assert.ok(page.includes(`<a href="${tos}" id="institution-tos"`), 'the login page links tos_uri')
        await unregister(c, rp)
      },
    },
    'oidcc-registration-jwks-uri': {
      status: 'passes',
      test: async (c) => {
        const path = '/jwks-uri/client1_jwks'
        const rp = await register(c, {}, { path })
        assert.equal(rp.registered.jwks_uri, jwksHost.url(path))
        await serverFlow(c, rp)
        assert.ok(jwksHost.hits(path) >= 1, 'PostCert fetched the client\'s jwks_uri')
        await unregister(c, rp)
      },
    },
    'oidcc-registration-sector-uri': {
      status: 'passes',
      test: async (c) => {
        assert.ok(metadata.subject_types_supported.includes('pairwise'))
        site.serve('/sector-uri/redirect_uris.json', [`${SUITE}/callback`])
        const sector = `${site.origin}/sector-uri/redirect_uris.json`
        const body = registrationRequest({ jwks: await suiteKey(false) }, { subject_type: 'pairwise', sector_identifier_uri: sector })
        const done = c.registered(await c.registration(body))
        assert.equal(done.subject_type, 'pairwise')
        assert.equal(done.sector_identifier_uri, sector)
        await request(c.url).delete(new URL(done.registration_client_uri).pathname).set('Authorization', `Bearer ${done.registration_access_token}`).expect(204)
      },
    },
    'oidcc-registration-sector-bad': {
      status: 'passes',
      conditions: ['EnsureContentTypeJson', 'EnsureHttpStatusCodeIs400', 'CheckErrorFromDynamicRegistrationEndpointIsInvalidClientMetadata'],
      test: async (c) => {
        assert.ok(metadata.subject_types_supported.includes('pairwise'))
        site.serve('/sector-bad/redirect_uris.json', ['https://example.com/op'])
        const body = registrationRequest({ jwks: await suiteKey(false) }, { subject_type: 'pairwise', sector_identifier_uri: `${site.origin}/sector-bad/redirect_uris.json` })
        const res = await c.registration(body)
        assert.equal(res.status, 400)
        assert.match(String(res.headers['content-type']), /^application\/json/)
        assert.equal(res.body.error, 'invalid_client_metadata')
      },
    },
    'oidcc-server-rotate-keys': {
      status: 'passes',
      note: 'the tester runs `postcert keys rotate` before pressing Start; in-process the same rotation, then the reload every instance does',
      conditions: ['VerifyNewJwksHasNewSigningKey', 'VerifyNewJwksStillHasOldSigningKey'],
      test: async (c) => {
        // FetchServerKeys, CheckServerKeysIsValid, ValidateJwksSequence, CheckForKeyIdInServerJWKs, CheckDistinctKeyIdValueInServerJWKs on both sets.
        const original = await serverJwks(c)
        await checkServerJwks(original)
        await c.server.ctx.signingKeys.rotate()
        assert.equal(await c.server.ctx.host.refresh(), true, 'the provider reloads with the new keys')
        const latest = await serverJwks(c)
        await checkServerJwks(latest)
        const before = signingKeys(original)
        const after = signingKeys(latest)
        // VerifyNewJwksHasNewSigningKey: keys only in the new set, with new kids and new key material.
        const fresh = after.filter((k) => !before.includes(k)).map((k) => JSON.parse(k))
        assert.ok(fresh.length >= 1, 'a new signing key')
        for (const key of fresh) {
          assert.ok(!original.keys.some((k) => k.kid === key.kid), 'a new kid')
          const field = key.kty === 'RSA' ? 'n' : 'x'
          assert.ok(!original.keys.some((k) => k[field] === key[field]), 'new key material')
        }
        // VerifyNewJwksStillHasOldSigningKey (a warning in the suite) compares whole JSON objects:
        // every old key is still published exactly as it was (nothing in it changes at a rotation).
        for (const key of original.keys) assert.ok(latest.keys.some((k) => isDeepStrictEqual(k, key)), `key ${key.kid} is published unchanged`)
        // Not checked by the module: ID tokens are now signed with a key of the new set, not by the old active one.
        const rp = await register(c)
        const { idToken } = await serverFlow(c, rp)
        const oldActive = (await c.server.ctx.signingKeys.list()).filter((k) => k.state === 'retired').map((k) => k.kid)
        assert.ok(!oldActive.includes(String(idToken.protectedHeader.kid)), 'not by the key the rotation retired')
        await unregister(c, rp)
      },
    },
    'oidcc-refresh-token-rp-key-rotation': {
      status: 'passes',
      note: 'oidc-provider refetches a client\'s jwks_uri on an unknown kid only once its copy is 60 s old: the module\'s default wait (server.jwks_refresh_delay unset or 60) is needed; really waits 60 s and 1 s (beside the other modules)',
      conditions: REFRESH_CONDITIONS,
      waits: 61,
      test: async (c) => {
        const path = '/rp-rotation/client1_jwks'
        const rp = await register(c, { grant_types: ['authorization_code', 'refresh_token'] }, { path })
        const { tokens, idToken } = await offlineLogin(c, rp)
        const fetched = jwksHost.hits(path)
        assert.ok(fetched >= 1)
        // Cycling keys in the RP's jwks_uri: a new key with a new kid replaces the old one.
        const rotated = await suiteKey(true)
        assert.notEqual(rotated.jwk.kid, rp.key!.jwk.kid)
        jwksHost.serve(path, [rotated])
        // WaitForJWKSRefreshDelay (60 s by default), then WaitForOneSecond before the refresh.
        await c.wait(60)
        await c.wait(1)
        await refresh(c, rp, rotated, tokens.refresh_token!, { access_token: tokens.access_token, idToken }, 'openid offline_access')
        assert.ok(jwksHost.hits(path) > fetched, 'PostCert fetched the rotated JWKS')
        await unregister(c, rp)
      },
    },
    'oidcc-request-uri-unsigned': {
      status: 'not applicable',
      note: 'request objects by reference are not supported (PAR instead): request_uri_parameter_supported is false, which the suite fails (CheckDiscEndpointRequestUriParameterSupported); it does not skip, as request_object_signing_alg_values_supported is absent. A request_uri gets request_uri_not_supported',
      conditions: ['CheckDiscEndpointRequestUriParameterSupported'],
      test: async (c) => {
        assert.equal(metadata.request_uri_parameter_supported, false, 'CheckDiscEndpointRequestUriParameterSupported wants it absent or true')
        assert.equal(metadata.request_object_signing_alg_values_supported, undefined)
        const requestUri = `${SUITE}/requesturi/${randomBytes(48).toString('base64url')}`
        const rp = await register(c, { request_uris: [`${requestUri}#${randomBytes(32).toString('base64url')}`] })
        assert.equal(rp.registered.request_uris, undefined, 'request_uris is not kept')
        const { step } = await c.authorize(rp, { request_uri: requestUri, state: undefined, nonce: undefined })
        assert.equal(c.authorizationError(step.callback), 'request_uri_not_supported')
        await unregister(c, rp)
      },
    },
    'oidcc-request-uri-signed-rs256': {
      status: 'not applicable',
      note: 'no request objects: request_object_signing_alg_values_supported is absent (the suite fails CheckDiscEndpointRequestObjectSigningAlgValuesSupportedContainsRS256) and request_uri is refused with request_uri_not_supported',
      conditions: ['CheckDiscEndpointRequestUriParameterSupported', 'CheckDiscEndpointRequestObjectSigningAlgValuesSupportedContainsRS256'],
      test: async (c) => {
        assert.equal(metadata.request_object_signing_alg_values_supported, undefined, 'CheckDiscEndpointRequestObjectSigningAlgValuesSupportedContainsRS256 wants it with RS256')
        assert.equal(metadata.request_uri_parameter_supported, false, 'CheckDiscEndpointRequestUriParameterSupported wants it absent or true')
        const requestUri = `${SUITE}/requesturi/${randomBytes(48).toString('base64url')}`
        const rp = await register(c, { request_object_signing_alg: 'RS256', request_uris: [requestUri] })
        assert.equal(rp.registered.request_object_signing_alg, undefined, 'request_object_signing_alg is not kept')
        const { step } = await c.authorize(rp, { request_uri: requestUri, state: undefined, nonce: undefined })
        assert.equal(c.authorizationError(step.callback), 'request_uri_not_supported')
        await unregister(c, rp)
      },
    },
    'oidcc-ensure-request-object-with-redirect-uri': {
      status: 'passes',
      note: 'request objects are not supported; the bad redirect_uri outside the request object gets an error page, never a redirect',
      conditions: ['EnsureOPDoesNotUseDefaultRedirectUriInCaseOfInvalidRedirectUri'],
      test: async (c) => {
        const rp = await register(c)
        const inside = { client_id: rp.clientId, response_type: 'code', scope: 'openid', redirect_uri: rp.redirectUri, state: client.randomState(), nonce: client.randomNonce() }
        const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
        // BuildRequestObjectByValueRedirectToAuthorizationEndpoint: the request object, and outside it
        // response_type, client_id, scope and the (invalid) redirect_uri.
        const { step } = await c.authorize(rp, {
          request: `${part({ alg: 'none' })}.${part(inside)}.`, redirect_uri: `${rp.redirectUri}_invalid`, state: undefined, nonce: undefined,
        })
        assert.match(Conformance.errorPage(step), /<code id="error-code">invalid_redirect_uri<\/code>/)
        await unregister(c, rp)
      },
    },
    'oidcc-refresh-token': {
      status: 'passes',
      conditions: [...REFRESH_CONDITIONS, 'CheckTokenEndpointHttpStatus400', 'CheckErrorFromTokenEndpointResponseErrorInvalidGrant', 'ValidateErrorFromTokenEndpointResponseError'],
      test: async (c) => {
        assert.ok(metadata.scopes_supported.includes('offline_access'))
        assert.ok(metadata.grant_types_supported.includes('refresh_token'), 'EnsureServerConfigurationSupportsRefreshToken')
        const extra = { grant_types: ['authorization_code', 'refresh_token'] }
        const rp1 = await register(c, extra)
        const rp2 = await register(c, { ...extra, client_name: 'OpenID conformance suite, client 2' })
        let stolen = ''
        for (const [rp, second] of [[rp1, false], [rp2, true]] as const) {
          const { tokens, idToken } = await offlineLogin(c, rp, second ? { nonce: randomBytes(32).toString('base64url').slice(0, 43) } : {})
          await sleep(1000)
          const refreshed = await refresh(c, rp, rp.key!, tokens.refresh_token!, { access_token: tokens.access_token, idToken }, second ? undefined : 'openid offline_access')
          stolen = refreshed.refresh_token ?? tokens.refresh_token!
        }
        // RefreshTokenRequestExpectingErrorSteps: client 2's refresh token presented by client 1.
        const res = await tokenRequest(c, rp1, rp1.key!, { grant_type: 'refresh_token', refresh_token: stolen, scope: 'openid offline_access' })
        assert.equal(checkTokenError(res.status, res.headers['content-type'], res.body), 'invalid_grant')
        await unregister(c, rp1)
        await unregister(c, rp2)
      },
    },
    'oidcc-ensure-client-assertion-with-iss-aud-succeeds': {
      status: 'passes',
      conditions: ['CheckIfTokenEndpointResponseError'],
      test: async (c) => {
        const rp = await register(c)
        const flow = await c.authorizeAndLogin(rp)
        // UpdateClientAuthenticationAssertionClaimsWithISSAud: the issuer as the assertion's audience.
        await exchangeAsSent(c, rp, flow, c.issuer)
        await unregister(c, rp)
      },
    },
  },
}
