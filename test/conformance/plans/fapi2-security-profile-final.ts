import assert from 'node:assert/strict'
import { createHash, generateKeyPairSync, randomBytes, randomInt, randomUUID, webcrypto, type KeyObject } from 'node:crypto'
import * as jose from 'jose'
import * as client from 'openid-client'
import request from 'supertest'
import { checkDpopNonceHeader, checkIdToken, checkResourceHeaders, checkTls, checkTokenError, checkTokenResponse, unguessable } from '../checks.ts'
import { checkMetadataAgainstSchema } from '../discovery-schema.ts'
import { Conformance, SUITE, type Rp, type Step } from '../harness.ts'
import type { PlanSpec } from '../plan.ts'
import { checkUserinfo, USERINFO_CONDITIONS } from './oidcc-basic.ts'

// The FAPI 2.0 plan in PostCert's terms: the suite's two static clients are FAPI clients
// (postcert_fapi_profile "2.0": PAR and DPoP forced, private_key_jwt, PKCE S256), every
// authorization request is pushed, every token is DPoP-bound, and the plan's resource is the
// userinfo endpoint called with DPoP. The helpers send what the suite's conditions send; the
// modules below differ from the baseline flow only where their Java classes do.

/** client.scope and client2.scope of the plan's configuration (conformance/fapi2-security-profile-final.json). */
const SCOPE = 'openid profile offline_access'
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
/** Second client's redirect URI: the happy flow checks the query comes back (AddRedirectUriQuerySuffix). */
const REDIRECT_2 = `${SUITE}/callback?dummy1=lorem&dummy2=ipsum`
/** What FAPI 2.0 allows for signatures (FAPI2_ALLOWED_ALGS of the suite). */
const FAPI_ALGS = ['PS256', 'ES256', 'EdDSA', 'Ed25519']

type Tokens = client.TokenEndpointResponse & client.TokenEndpointResponseHelpers
type Mutate = client.ModifyAssertionFunction
type Json = client.JsonValue

/** A client of the plan's configuration, with the private key its `jwks` holds (PS256, as the suite defaults to). */
interface FapiRp extends Rp {
  signingKey: KeyObject
  kid: string
  /** The headers of its last response through openid-client, which does not show them (CheckTokenEndpointCacheHeaders). */
  last: { headers?: Headers }
}

/** client and client2 of the configuration: different keys (ValidateClientPrivateKeysAreDifferent). */
let rp1: FapiRp
let rp2: FapiRp

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
const epoch = () => Math.floor(Date.now() / 1000)
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
const sha256 = (value: string) => createHash('sha256').update(value).digest('base64url')
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const alnum = (length: number) => Array.from({ length }, () => ALNUM[randomInt(ALNUM.length)]).join('')
/** A state or nonce as CreateRandomStateValue / CreateRandomNonceValue make it: beyond 10 characters it ends with every URL-safe symbol. */
const suiteValue = (length: number) => (length > 10 ? `${alnum(length - 4)}-._~` : alnum(length))
const defined = (params: Record<string, string | undefined>) =>
  Object.fromEntries(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined))
/** AddInvalidDpopJktToAuthorizationEndpointRequest: every byte of the thumbprint XOR 0x5A. */
const mangled = (jkt: string) => Buffer.from(Buffer.from(jkt, 'base64url').map((b) => b ^ 0x5a)).toString('base64url')
/** AbstractInvalidateJwsSignature: every byte of the signature XOR 0x5A. */
const badSignature = (jws: string) => {
  const [header, payload, signature] = jws.split('.') as [string, string, string]
  return `${header}.${payload}.${mangled(signature)}`
}

/**
 * A FAPI client as the operator registers it for the suite (`postcert clients add --fapi`): an
 * initial access token with the fapi2 policy, private_key_jwt with a PS256 key. The key is kept
 * as a KeyObject too, for the assertions the modules craft (RS256 with the same key, no `sub`...).
 */
async function registerFapiClient(c: Conformance, redirectUri: string): Promise<FapiRp> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const kid = `PS256-${randomBytes(4).toString('hex')}`
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'PS256', use: 'sig' }
  const res = await c.registration({
    redirect_uris: [redirectUri], client_name: 'conformance suite (FAPI 2.0)', token_endpoint_auth_method: 'private_key_jwt',
    grant_types: ['authorization_code', 'refresh_token'], jwks: { keys: [jwk] },
  }, { fapi: true })
  assert.equal(res.status, 201, res.text)
  assert.equal(res.body.postcert_fapi_profile, '2.0')
  const webKey = await webcrypto.subtle.importKey('pkcs8', privateKey.export({ format: 'der', type: 'pkcs8' }), { name: 'RSA-PSS', hash: 'SHA-256' }, false, ['sign'])
  const rp = await c.rp(res.body, { privateKey: webKey, jwk, alg: 'PS256' })
  // PerformStandardIdTokenChecks verifies the ID token's signature too.
  client.enableNonRepudiationChecks(rp.config)
  const last: FapiRp['last'] = {}
  rp.config[client.customFetch] = async (url, options) => {
    const res = await fetch(url, options as RequestInit)
    last.headers = res.headers
    return res
  }
  return { ...rp, signingKey: privateKey, kid, last }
}

// ---------------------------------------------------------------------------------------------
// DPoP proofs and client assertions, as CreateDpopProofSteps and CreateClientAuthenticationAssertionClaims make them

/** A DPoP key as GenerateDpopKey makes it (PS256 unless dpop_signing_alg says otherwise), exportable for the negative tests. */
interface DpopKey {
  pair: client.CryptoKeyPair
  jwk: jose.JWK
  privateJwk: jose.JWK
  jkt: string
}

async function dpopKey(): Promise<DpopKey> {
  const pair = await client.randomDPoPKeyPair('PS256', { extractable: true })
  const [jwk, privateJwk] = await Promise.all([jose.exportJWK(pair.publicKey), jose.exportJWK(pair.privateKey)])
  return { pair, jwk, privateJwk, jkt: await jose.calculateJwkThumbprint(jwk) }
}

/** openid-client's DPoP for `key`; `mutate` changes every proof before it is signed (the iat, nbf/exp modules). */
const dpopHandle = (rp: Rp, key: DpopKey, mutate?: Mutate) =>
  client.getDPoPHandle(rp.config, key.pair, mutate ? { [client.modifyAssertion]: mutate } : undefined)

interface ProofOptions {
  accessToken?: string
  /** Changes the header and claims before signing (a negative test's condition). */
  mutate?: Mutate
  /** Changes the signed proof (conditions inserted after SignDpopProof). */
  after?: (jws: string) => string
}

/** A DPoP proof: typ dpop+jwt, the public jwk, jti, iat, htm, htu (and ath at a resource). */
async function proof(key: DpopKey, htm: string, htu: string, o: ProofOptions = {}): Promise<string> {
  const header: Record<string, Json | undefined> = { alg: 'PS256', typ: 'dpop+jwt', jwk: key.jwk as Json }
  const payload: Record<string, Json | undefined> = { jti: alnum(20), iat: epoch(), htm, htu, ...(o.accessToken ? { ath: sha256(o.accessToken) } : {}) }
  o.mutate?.(header, payload)
  let jws: string
  if (header.alg === 'none') jws = `${b64(header)}.${b64(payload)}.`
  else {
    // ChangeSignAlgorithm signs with the same RSA key, as RS256.
    const signingKey = header.alg === 'RS256' ? await jose.importJWK({ ...key.privateJwk, alg: 'RS256' }, 'RS256') : key.pair.privateKey
    jws = await new jose.SignJWT(payload as jose.JWTPayload).setProtectedHeader(header as jose.JWTHeaderParameters).sign(signingKey)
  }
  return o.after ? o.after(jws) : jws
}

interface AssertionOptions {
  aud?: Json
  claims?: Record<string, Json>
  drop?: string[]
  alg?: 'PS256' | 'RS256'
}

/** A client assertion (CreateClientAuthenticationAssertionClaimsWithIssAudience): iss = sub = client_id, aud = issuer, 60 s. */
async function assertion(c: Conformance, rp: FapiRp, o: AssertionOptions = {}): Promise<string> {
  const now = epoch()
  const payload: Record<string, Json> = { iss: rp.clientId, sub: rp.clientId, aud: o.aud ?? c.issuer, jti: alnum(20), nbf: now, iat: now, exp: now + 60, ...o.claims }
  for (const claim of o.drop ?? []) delete payload[claim]
  return await new jose.SignJWT(payload as jose.JWTPayload).setProtectedHeader({ alg: o.alg ?? 'PS256', kid: rp.kid }).sign(rp.signingKey)
}

// ---------------------------------------------------------------------------------------------
// The pushed authorization request and the front channel

interface Pushed {
  res: request.Response
  rp: FapiRp
  /** What was pushed (pushed_authorization_request_form_parameters, without the client assertion). */
  params: Record<string, string>
  verifier: string
  requestUri: string
}

/** What an authorization request sent, for checking the error it got back. */
type Sent = Pick<Pushed, 'rp' | 'params'>

interface ParOptions {
  /** On top of the suite's parameters; undefined leaves one out. */
  params?: Record<string, string | undefined>
  /** A DPoP proof with the PAR request (the modules with useDpopAuthCodeBinding). */
  proofKey?: DpopKey
  proof?: ProofOptions
  /** The client assertion; null sends none. */
  assertion?: string | null
  method?: 'post' | 'put'
}

/** BuildUnsignedPAREndpointRequest + CallPAREndpoint: the authorization request as a form, with PKCE S256 and the client assertion. */
async function par(c: Conformance, rp: FapiRp, o: ParOptions = {}): Promise<Pushed> {
  const verifier = client.randomPKCECodeVerifier()
  const params = defined({
    client_id: rp.clientId, redirect_uri: rp.redirectUri, scope: SCOPE, state: suiteValue(10), nonce: suiteValue(10), response_type: 'code',
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...o.params,
  })
  const body = new URLSearchParams(params)
  if (o.assertion !== null) {
    body.set('client_assertion_type', JWT_BEARER)
    body.set('client_assertion', o.assertion ?? await assertion(c, rp))
  }
  const req = request(c.url)[o.method ?? 'post']('/request').type('form')
  if (o.proofKey) req.set('DPoP', await proof(o.proofKey, 'POST', `${c.issuer}/request`, o.proof))
  const res = await req.send(body.toString())
  return { res, rp, params, verifier, requestUri: res.body?.request_uri }
}

/** processParResponse: 201, JSON, a request_uri with enough entropy, expires_in. */
async function pushed(c: Conformance, rp: FapiRp, o: ParOptions = {}): Promise<Pushed> {
  const p = await par(c, rp, o)
  assert.equal(p.res.status, 201, p.res.text)
  assert.match(p.res.type, /^application\/json/)
  assert.equal(p.res.body.error, undefined, 'no error in the PAR response')
  assert.match(p.requestUri, /^urn:ietf:params:oauth:request_uri:/)
  unguessable(p.requestUri, 'the request_uri')
  // ExtractPARExpiresIn...: at least 5 s, below a year.
  assert.ok(Number.isInteger(p.res.body.expires_in) && p.res.body.expires_in >= 5 && p.res.body.expires_in < 31536000, 'expires_in')
  checkDpopNonceHeader(p.res.headers)
  return p
}

/** EnsureHttpStatusCodeIs4xx. */
const FOUR_XX = Array.from({ length: 100 }, (_, i) => 400 + i)

/** A PAR error as EnsurePAR...Error checks it: `statuses`, and `error` one of `errors`. */
function parError(p: Pushed, statuses: number[], errors: string[]): string {
  assert.ok(statuses.includes(p.res.status), `PAR answered ${p.res.status}, expected ${statuses}: ${p.res.text}`)
  assert.ok(errors.includes(p.res.body.error), `PAR error ${p.res.body.error}, expected one of ${errors}`)
  return p.res.body.error
}

/**
 * BuildRequestObjectByReferenceRedirectToAuthorizationEndpoint: request_uri plus client_id, and
 * the duplicates RFC 6749 and OIDC ask for (response_type, scope, redirect_uri), unless the
 * module sends client_id and request_uri only; `extra` is a parameter the module adds outside.
 */
function authorizationPath(p: Pushed, o: { duplicates?: boolean; extra?: Record<string, string>; clientId?: string; reverse?: boolean } = {}): string {
  const query: Record<string, string> = { client_id: o.clientId ?? p.rp.clientId, request_uri: p.requestUri }
  if (o.duplicates !== false) {
    for (const key of ['response_type', 'scope', 'redirect_uri']) if (p.params[key] !== undefined) query[key] = p.params[key]
  }
  Object.assign(query, o.extra)
  const entries = Object.entries(query).sort(([a], [b]) => (a < b ? -1 : 1))
  if (o.reverse) entries.reverse()
  return `/auth?${new URLSearchParams(entries)}`
}

/** The suite's browser opens a URL at PostCert and follows its redirects. */
async function visit(c: Conformance, path: string, browser = c.browser()): Promise<{ browser: request.Agent; step: Step }> {
  return { browser, step: await c.follow(browser, await browser.get(path)) }
}

/** The browser automation: log in on the login page, approve the registration (consent) if asked. */
async function signIn(c: Conformance, browser: request.Agent, step: Step): Promise<URL> {
  if (step.callback) return step.callback
  if (step.page?.includes('data-csrf=')) return await c.login(browser, step)
  return await c.h.consentIfAsked(browser, step)
}

/** The user presses the login page's cancel button (the plan's override for user-rejects-authentication). */
async function cancel(c: Conformance, browser: request.Agent, step: Step): Promise<URL | undefined> {
  assert.ok(step.page && /^\/interaction\//.test(step.path ?? ''), 'the login page')
  const uid = step.path!.split('/')[2]!
  const csrf = step.page.match(/name="csrf" value="([^"]+)"/)![1]!
  return (await c.follow(browser, await browser.post(`/interaction/${uid}/abort`).type('form').send({ csrf }))).callback
}

/** The callback is at the redirect URI as registered, its own query included (CheckMatchingCallbackParameters). */
function atRedirectUri(callback: URL, redirectUri: string): void {
  const registered = new URL(redirectUri)
  assert.equal(callback.origin + callback.pathname, registered.origin + registered.pathname)
  for (const [key, value] of registered.searchParams) assert.equal(callback.searchParams.get(key), value, `the redirect URI's own ${key}`)
}

/**
 * onAuthorizationCallbackResponse: nothing in the fragment, no error, the state as pushed (or
 * none), iss (RequireIssInAuthorizationResponse), a code of enough length.
 */
function checkCallback(c: Conformance, p: Pushed, callback: URL): void {
  assert.equal(callback.searchParams.get('error'), null, callback.href)
  assert.equal(callback.hash, '', 'nothing in the fragment')
  atRedirectUri(callback, p.params.redirect_uri ?? p.rp.redirectUri)
  assert.equal(callback.searchParams.get('state'), p.params.state ?? null)
  assert.equal(callback.searchParams.get('iss'), c.issuer)
  unguessable(callback.searchParams.get('code') ?? undefined, 'the code')
  // ValidateSuccessfulAuthCodeFlowResponseFromAuthorizationEndpoint: nothing unexpected.
  const own = [...new URL(p.params.redirect_uri ?? p.rp.redirectUri).searchParams.keys()]
  for (const key of callback.searchParams.keys()) assert.ok(['code', 'state', 'iss', 'id_token', 'session_state', ...own].includes(key), `unexpected ${key} in the callback`)
}

/**
 * An error back at the redirect URI (performGenericAuthorizationEndpointErrorResponseValidation):
 * the state, iss if present, an error of `errors`, no code, nothing unexpected, a legal description.
 */
function authorizationError(c: Conformance, p: Sent, callback: URL | undefined, errors: string[], state = p.params.state): string {
  const error = c.authorizationError(callback, undefined, { checkState: false, redirectUri: p.params.redirect_uri ?? p.rp.redirectUri })
  assert.ok(errors.includes(error), `error ${error}, expected one of ${errors}`)
  // CheckStateInAuthorizationResponse: the state sent, or none when the request it was in could not be used.
  const returned = callback!.searchParams.get('state')
  if (!(returned === null && ['invalid_request_uri', 'invalid_request_object'].includes(error))) assert.equal(returned, state ?? null, 'the state')
  atRedirectUri(callback!, p.params.redirect_uri ?? p.rp.redirectUri)
  const own = [...new URL(p.params.redirect_uri ?? p.rp.redirectUri).searchParams.keys()]
  for (const key of callback!.searchParams.keys()) assert.ok(['error', 'error_description', 'error_uri', 'state', 'iss', ...own].includes(key), `unexpected ${key}`)
  return error
}

/** A placeholder module: an error page (4xx, no redirect) or a redirect back with one of `errors`. */
function errorPageOrRedirect(c: Conformance, p: Sent, step: Step, errors: string[], state = p.params.state): string {
  if (step.callback) return authorizationError(c, p, step.callback, errors, state)
  Conformance.errorPage(step)
  return 'error page'
}

// ---------------------------------------------------------------------------------------------
// The back channel

/** exchangeAuthorizationCode with openid-client: code, PKCE verifier, private_key_jwt, DPoP. */
async function exchange(p: Pushed, callback: URL, key: DpopKey, mutate?: Mutate): Promise<Tokens> {
  const DPoP = dpopHandle(p.rp, key, mutate)
  const redirectUri = p.params.redirect_uri ?? p.rp.redirectUri
  if (!new URL(redirectUri).search) {
    return await client.authorizationCodeGrant(p.rp.config, callback, { pkceCodeVerifier: p.verifier, expectedState: p.params.state, expectedNonce: p.params.nonce }, undefined, { DPoP })
  }
  // openid-client sends the callback URL without its query as redirect_uri; client 2's registered
  // URI has one, so its exchange names it (as the suite does) and checks the nonce here.
  const tokens = await client.genericGrantRequest(p.rp.config, 'authorization_code', { code: callback.searchParams.get('code')!, redirect_uri: redirectUri, code_verifier: p.verifier }, { DPoP })
  assert.equal(tokens.claims()?.nonce, p.params.nonce)
  return tokens
}

/**
 * processTokenEndpointResponse: a DPoP access token of enough length, expires_in (at most a
 * year), an ID token with a kid and a FAPI algorithm that passes PerformStandardIdTokenChecks.
 */
async function checkTokens(c: Conformance, p: Pushed, tokens: Tokens): Promise<void> {
  assert.equal(tokens.token_type, 'dpop')
  checkTokenResponse(tokens)
  unguessable(tokens.access_token, 'the access token')
  if (tokens.refresh_token !== undefined) unguessable(tokens.refresh_token, 'the refresh token')
  assert.ok(typeof tokens.expires_in === 'number' && tokens.expires_in > 0, 'expires_in')
  const header = jose.decodeProtectedHeader(tokens.id_token!)
  assert.ok(header.kid, 'the ID token names its key')
  assert.ok(FAPI_ALGS.includes(String(header.alg)), `ID token signed with ${header.alg}`)
  await checkIdToken(tokens.id_token!, { issuer: c.issuer, clientId: p.rp.clientId, jwks: await c.jwks(), nonce: p.params.nonce, accessToken: tokens.access_token })
}

/** The first client's resource request headers (createDefaultFirstClientResourceHeaders). */
const fapiHeaders = (): Record<string, string> => ({
  'x-fapi-auth-date': new Date().toUTCString(), 'x-fapi-customer-ip-address': '198.51.100.119', 'x-fapi-interaction-id': randomUUID(),
})

/** The plan's resource (resource.resourceUrl): userinfo, GET with DPoP, through openid-client. */
async function callResource(c: Conformance, rp: Rp, accessToken: string, key: DpopKey, o: { headers?: Record<string, string>; mutate?: Mutate } = {}): Promise<Response> {
  return await client.fetchProtectedResource(rp.config, accessToken, new URL(`${c.issuer}/me`), 'GET', undefined, new Headers(o.headers), { DPoP: dpopHandle(rp, key, o.mutate) })
}

/** requestProtectedResource: 200 or 201, with a Date header. */
async function resourceOk(c: Conformance, rp: Rp, accessToken: string, key: DpopKey, o: { headers?: Record<string, string>; mutate?: Mutate } = {}): Promise<Record<string, unknown>> {
  const res = await callResource(c, rp, accessToken, key, o)
  assert.ok(res.status === 200 || res.status === 201, `the resource answered ${res.status}`)
  checkResourceHeaders(res.headers, o.headers?.['x-fapi-interaction-id'])
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
  return await res.json() as Record<string, unknown>
}

/** A resource request as the negative tests send it: any scheme, any DPoP header(s). */
async function rawResource(c: Conformance, accessToken: string, proofs: string[], o: { scheme?: string; header?: string; query?: string } = {}) {
  const req = request(c.url).get(`/me${o.query ?? ''}`)
  if (o.scheme !== undefined) req.set('Authorization', `${o.scheme} ${accessToken}`)
  // Two proofs go as two header lines, as the suite's HttpHeaders sends a list.
  const set = req.set.bind(req) as (field: string, value: string | string[]) => unknown
  if (proofs.length) set(o.header ?? 'DPoP', proofs.length === 1 ? proofs[0]! : proofs)
  return await req
}

/** A token request as the negative modules send it, with a DPoP proof of `key` if given. */
async function tokenRequest(c: Conformance, fields: Record<string, string | undefined>, o: { key?: DpopKey; assertion?: string; proof?: ProofOptions } = {}) {
  const req = request(c.url).post('/token').type('form')
  if (o.key) req.set('DPoP', await proof(o.key, 'POST', `${c.issuer}/token`, o.proof))
  const body = defined({ ...fields, ...(o.assertion ? { client_assertion_type: JWT_BEARER, client_assertion: o.assertion } : {}) })
  return await req.send(new URLSearchParams(body).toString())
}

/** CreateTokenEndpointRequestForAuthorizationCodeGrant + AddCodeVerifierToTokenEndpointRequest. */
const codeFields = (p: Pushed, callback: URL, over: Record<string, string | undefined> = {}) => ({
  grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: p.params.redirect_uri, code_verifier: p.verifier, ...over,
})

type Accepted = Record<string, number[]>
const INVALID_CLIENT: Accepted = { invalid_client: [400, 401] }
const INVALID_CLIENT_OR_REQUEST: Accepted = { invalid_client: [400, 401], invalid_request: [400] }
const INVALID_CLIENT_GRANT_OR_REQUEST: Accepted = { invalid_client: [400, 401], invalid_grant: [400], invalid_request: [400] }
const INVALID_GRANT: Accepted = { invalid_grant: [400] }
/** CheckTokenEndpointReturnedInvalidRequestGrantOrDPopProofError. */
const DPOP_BINDING: Accepted = { invalid_request: [400], invalid_grant: [400], invalid_dpop_proof: [400] }

/** A token endpoint error as the module checks it: JSON, an accepted error with its status, a legal description. */
function tokenError(res: request.Response, accepted: Accepted): string {
  assert.match(res.type, /^application\/json/, res.text)
  checkTokenError(res.status, res.type, res.body)
  checkDpopNonceHeader(res.headers)
  const { error, error_description: description } = res.body
  assert.ok(accepted[error]?.includes(res.status), `${res.status} ${error}, expected ${JSON.stringify(accepted)}: ${res.text}`)
  if (description !== undefined) assert.match(description, /^[\x20\x21\x23-\x5B\x5D-\x7E]*$/)
  return error
}

// ---------------------------------------------------------------------------------------------
// The baseline flow of AbstractFAPI2SPFinalServerTestModule

interface FlowOptions {
  params?: Record<string, string | undefined>
  /** The client's DPoP key (GenerateDpopKey); a new one by default. */
  key?: DpopKey
  /** A DPoP proof at PAR too (useDpopAuthCodeBinding). */
  proofAtPar?: boolean
  /** Changes every DPoP proof of the flow (the iat and nbf/exp modules). */
  mutate?: Mutate
  parAssertion?: string
  duplicates?: boolean
  reverse?: boolean
  extra?: Record<string, string>
  browser?: request.Agent
}

/** PAR, the redirect, the login, the callback checks (everything before the token endpoint). */
async function signedIn(c: Conformance, rp: FapiRp, o: FlowOptions = {}) {
  const key = o.key ?? await dpopKey()
  const p = await pushed(c, rp, { params: o.params, proofKey: o.proofAtPar ? key : undefined, proof: { mutate: o.mutate }, assertion: o.parAssertion })
  const { browser, step } = await visit(c, authorizationPath(p, o), o.browser)
  const callback = await signIn(c, browser, step)
  checkCallback(c, p, callback)
  return { p, key, browser, callback }
}

/** The whole flow: PAR, login, code exchange with DPoP, the resource with DPoP. */
async function fapiFlow(c: Conformance, rp: FapiRp, o: FlowOptions & { headers?: Record<string, string> } = {}) {
  const flow = await signedIn(c, rp, o)
  const tokens = await exchange(flow.p, flow.callback, flow.key, o.mutate)
  await checkTokens(c, flow.p, tokens)
  const userinfo = await resourceOk(c, rp, tokens.access_token, flow.key, { headers: o.headers ?? fapiHeaders(), mutate: o.mutate })
  assert.equal(userinfo.sub, tokens.claims()!.sub)
  return { ...flow, tokens, userinfo }
}

/** A client assertion module: a normal login, then the code exchange with `crafted` as the assertion. */
async function assertionModule(c: Conformance, crafted: (c: Conformance) => Promise<string>, accepted: Accepted) {
  const { p, callback, key } = await signedIn(c, rp1)
  tokenError(await tokenRequest(c, codeFields(p, callback), { key, assertion: await crafted(c) }), accepted)
}

/** A PAR client assertion module: the PAR request with `crafted` must be refused (400/401, invalid_client or invalid_request). */
async function parAssertionModule(c: Conformance, crafted: Promise<string>) {
  parError(await par(c, rp1, { assertion: await crafted }), [400, 401], ['invalid_client', 'invalid_request'])
}

/** What an ID token may carry unrequested (EnsureIdTokenDoesNotContainNonRequestedClaims), and the profile scope's claims. */
const ID_TOKEN_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'acr', 'amr', 'azp', 'at_hash', 'c_hash', 'nbf', 'jti', 'sid', 's_hash']
const PROFILE_CLAIMS = ['name', 'given_name', 'family_name', 'middle_name', 'nickname', 'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at', 'preferred_username']

/** The standard claims of OIDC Core 5.1, which AddAllSupportedStandardClaims... requests when claims_supported lists them. */
const STANDARD_CLAIMS = ['sub', 'name', 'given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username', 'profile', 'picture', 'website',
  'email', 'email_verified', 'gender', 'birthdate', 'zoneinfo', 'locale', 'phone_number', 'phone_number_verified', 'address', 'updated_at']

/** addRequestsForClaims: the claims requested in turn as null, {}, essential, with an unknown member, not essential. */
function claimRequests(names: string[]): Record<string, Json> {
  const forms: (() => Json)[] = [() => null, () => ({}), () => ({ essential: true }), () => ({ [alnum(10)]: alnum(10) }), () => ({ essential: false })]
  return Object.fromEntries(names.map((name, i) => [name, forms[i % forms.length]!()]))
}

/** The TLS conditions of happy-flow and ensure-holder-of-key-required beyond the shared ones (checkTls). */
const TLS_CONDITIONS = ['EnsureTLS13OrLater', 'EnsureTLS13PreferredOverTLS12', 'RequireOnlyBCP195RecommendedCiphersForTLS12', 'CheckForBCP195InsecureFAPICiphers']

/** What tokenError stands for beside the shared error format: a JSON error without CR, LF or TAB in its description. */
const TOKEN_ERROR = ['CheckTokenEndpointReturnedJsonContentType', 'CheckErrorDescriptionFromTokenEndpointResponseErrorContainsCRLFTAB']
/** A token endpoint error of INVALID_GRANT (CheckTokenEndpointHttpStatus400, invalid_grant). */
const INVALID_GRANT_CONDITIONS = ['CheckTokenEndpointHttpStatus400', ...TOKEN_ERROR, 'CheckErrorFromTokenEndpointResponseErrorInvalidGrant']
/** A token endpoint error of INVALID_CLIENT_OR_REQUEST (the client assertion modules). */
const INVALID_CLIENT_OR_REQUEST_CONDITIONS = ['CheckTokenEndpointHttpStatusIs400Allowing401ForInvalidClientError', ...TOKEN_ERROR, 'CheckErrorFromTokenEndpointResponseErrorInvalidClientOrInvalidRequest']
/** A refused PAR client assertion (parAssertionModule). */
const PAR_ASSERTION_CONDITIONS = ['EnsureHttpStatusCodeIs400or401', 'CheckErrorFromParEndpointResponseErrorInvalidClientOrInvalidRequest']
/** An error back at the redirect URI (authorizationError) beside the module's own error condition. */
const AUTHORIZATION_ERROR = ['CheckStateInAuthorizationResponse', 'EnsureErrorFromAuthorizationEndpointResponse', 'CheckForUnexpectedParametersInErrorResponseFromAuthorizationEndpoint']

export const FAPI2: PlanSpec = {
  name: 'fapi2-security-profile-final-test-plan',
  variant: 'client_auth_type=private_key_jwt, sender_constrain=dpop, openid=openid_connect, fapi_profile=plain_fapi (fapi_request_method=unsigned, fapi_response_mode=plain_response); client keys and DPoP keys PS256, scope `openid profile offline_access`',
  authMethod: 'private_key_jwt',
  // As deployed: behind nginx with the shipped TLS configuration, an https issuer.
  server: async () => ({ tls: true }),
  setup: async (c) => {
    rp1 = await registerFapiClient(c, `${SUITE}/callback`)
    rp2 = await registerFapiClient(c, REDIRECT_2)
  },
  modules: {
    'fapi2-security-profile-final-discovery-end-point-verification': {
      status: 'passes',
      note: 'the discovery URL is https in a deployment (CheckDiscEndpointDiscoveryUrl); in-process it is http on 127.0.0.1',
      conditions: ['EnsureDiscoveryEndpointResponseStatusCodeIs200', 'CheckDiscoveryEndpointReturnedJsonContentType', 'CheckDiscEndpointResponseTypeCodeSupported',
        'EnsureAuthorizationResponseIssParameterSupportedIsTrue', 'CheckDiscEndpointPARSupported', 'CheckDiscEndpointDiscoveryUrl', 'CheckDiscEndpointIssuer', 'CheckDiscEndpointIssuerIsValidUrl',
        'ValidateServerMetadataAgainstSchema', 'CheckForUnexpectedParametersInServerMetadata', 'FAPI2CheckDpopSigningAlgValuesSupported', 'FAPI2CheckDiscEndpointIdTokenSigningAlgValuesSupported',
        'CheckDiscEndpointTokenEndpointAuthMethodsSupportedContainsPrivateKeyOrTlsClient', 'FAPI2CheckDiscEndpointTokenEndpointAuthSigningAlgValuesSupported',
        'FAPI2CheckDiscEndpointUserinfoSigningAlgValuesSupported', 'CheckDiscEndpointTokenEndpoint', 'CheckDiscEndpointRegistrationEndpoint', 'CheckJwksUri',
        'EnsureServerConfigurationSupportsCodeChallengeMethodS256', 'CheckDiscEndpointScopesSupportedSyntax', 'CheckDiscEndpointLocalesSyntax', 'CheckDiscEndpointLocalesCanonicalCasing',
        'CheckDiscRequirePushedAuthorizationRequestsIsABoolean', 'CheckDiscEndpointAuthorizationEndpoint', 'CheckDiscEndpointGrantTypesSupportedContainsAuthorizationCode',
        'CheckDiscEndpointScopesSupportedContainsOpenId', 'CheckDiscEndpointSubjectTypesSupported'],
      test: async (c) => {
        const res = await request(c.url).get('/.well-known/openid-configuration').expect(200)
        assert.match(res.type, /^application\/json/)
        const d = res.body
        checkMetadataAgainstSchema(d)
        assert.equal(d.issuer, c.issuer, 'the issuer is the discovery URL without /.well-known/openid-configuration')
        const iss = new URL(d.issuer)
        assert.ok(iss.hostname && !iss.search && !iss.hash && !iss.username && !iss.password, 'CheckDiscEndpointIssuerIsValidUrl')
        assert.ok(d.response_types_supported.includes('code'))
        assert.equal(d.authorization_response_iss_parameter_supported, true)
        assert.ok(URL.canParse(d.pushed_authorization_request_endpoint))
        for (const key of ['dpop_signing_alg_values_supported', 'id_token_signing_alg_values_supported', 'token_endpoint_auth_signing_alg_values_supported', 'userinfo_signing_alg_values_supported']) {
          assert.ok(d[key].some((alg: string) => FAPI_ALGS.includes(alg)), `${key} has a FAPI 2.0 algorithm`)
        }
        assert.ok(d.token_endpoint_auth_methods_supported.includes('private_key_jwt'))
        for (const key of ['token_endpoint', 'registration_endpoint', 'jwks_uri', 'authorization_endpoint']) assert.ok(URL.canParse(d[key]), key)
        assert.ok(d.code_challenge_methods_supported.includes('S256'))
        for (const scope of d.scopes_supported) assert.match(scope, /^[\x21\x23-\x5B\x5D-\x7E]+$/, 'a scope-token (RFC 6749 3.3)')
        for (const locale of [...d.ui_locales_supported, ...(d.claims_locales_supported ?? [])]) assert.match(locale, /^[a-z]{2,3}(-[A-Z][a-z]{3})?(-[A-Z]{2})?$/, 'CheckDiscEndpointLocalesSyntax and canonical casing')
        assert.equal(typeof (d.require_pushed_authorization_requests ?? false), 'boolean')
        assert.ok(d.grant_types_supported.includes('authorization_code'))
        assert.ok(d.scopes_supported.includes('openid'))
        assert.ok(d.subject_types_supported.some((t: string) => t === 'public' || t === 'pairwise'), 'CheckDiscEndpointSubjectTypesSupported')
        // Behind the TLS proxy, as deployed: the discovery URL, the issuer and every endpoint are https.
        if (c.proxy) for (const key of ['issuer', 'jwks_uri', ...Object.keys(d).filter((k) => k.endsWith('_endpoint'))]) assert.equal(new URL(d[key]).protocol, 'https:', key)
        // What every module's configuration checks: the server's keys have distinct kids and FAPI 2.0 lengths.
        const { keys } = (await request(c.url).get(new URL(d.jwks_uri).pathname).expect(200)).body
        assert.equal(new Set(keys.map((k: jose.JWK) => k.kid)).size, keys.length)
        for (const key of keys) {
          assert.ok(key.kid && !('d' in key), 'public keys with a kid')
          if (key.kty === 'RSA') assert.ok(Buffer.from(key.n, 'base64url').length * 8 >= 2048)
          if (key.kty === 'EC') assert.ok(['P-256', 'P-384', 'P-521'].includes(key.crv))
        }
      },
    },
    'fapi2-security-profile-final-happy-flow': {
      status: 'passes',
      note: 'the resource endpoint\'s TLS (TLS 1.2 with the BCP 195 suites or TLS 1.3, no TLS 1.0/1.1) is checked at the shipped nginx configuration in front',
      conditions: [...TLS_CONDITIONS, 'DisallowAccessTokenInQuery', 'EnsureHttpStatusCodeIs200or201', 'EnsureIdTokenDoesNotContainNonRequestedClaims', 'EnsureHttpStatusCodeIs4xx'],
      test: async (c) => {
        if (c.proxy) {
          await checkTls(`${c.issuer}/me`)
        }
        const first = await fapiFlow(c, rp1)
        const at = first.tokens.access_token
        const me = `${c.issuer}/me`
        // DisallowAccessTokenInQuery: the token only in the query (with the headers and a proof) is refused.
        const inQuery = await rawResource(c, at, [await proof(first.key, 'GET', me, { accessToken: at })], { query: `?access_token=${at}` })
        assert.ok([400, 401, 414].includes(inQuery.status), `token in the query answered ${inQuery.status}`)
        // Other valid Accept headers, an IPv6 customer address.
        await resourceOk(c, rp1, at, first.key, { headers: { ...fapiHeaders(), 'x-fapi-customer-ip-address': '2001:db8::1020:ba7', Accept: 'application/json; charset=UTF-8', 'Accept-Charset': 'UTF-8' } })
        await resourceOk(c, rp1, at, first.key, { headers: { ...fapiHeaders(), 'x-fapi-customer-ip-address': '2001:db8::1020:ba7', Accept: 'application/json, application/*+json, */*' } })
        // EnsureIdTokenDoesNotContainNonRequestedClaims: the ID token claims, and those of the scopes requested.
        for (const claim of Object.keys(first.tokens.claims()!)) assert.ok(ID_TOKEN_CLAIMS.includes(claim) || PROFILE_CLAIMS.includes(claim), `${claim} was not requested`)
        // Client 2 in the same browser: a 128-character state, a 43-character nonce, dpop_jkt without a PAR proof, reordered parameters.
        const key2 = await dpopKey()
        const second = await fapiFlow(c, rp2, { browser: first.browser, key: key2, reverse: true, params: { state: suiteValue(128), nonce: suiteValue(43), dpop_jkt: key2.jkt }, headers: {} })
        assert.equal(second.callback.searchParams.get('dummy1'), 'lorem')
        assert.equal(second.callback.searchParams.get('dummy2'), 'ipsum')
        // Client 1's DPoP key with client 2's access token: 4xx.
        await assert.rejects(callResource(c, rp1, second.tokens.access_token, first.key),
          (err: client.WWWAuthenticateChallengeError) => err.status >= 400 && err.status < 500)
      },
    },
    'fapi2-security-profile-final-user-rejects-authentication': {
      status: 'passes',
      note: 'the user presses the login page\'s cancel button (POST /interaction/:uid/abort): access_denied',
      conditions: [...AUTHORIZATION_ERROR, 'ExpectAccessDeniedErrorFromAuthorizationEndpointDueToUserRejectingRequest'],
      test: async (c) => {
        const browser = c.browser()
        for (const rp of [rp1, rp2]) {
          const p = await pushed(c, rp, { params: { state: suiteValue(128) } })
          const { step } = await visit(c, authorizationPath(p), browser)
          assert.equal(authorizationError(c, p, await cancel(c, browser, step), ['access_denied']), 'access_denied')
        }
      },
    },
    'fapi2-security-profile-final-ensure-authorization-request-without-state-success': {
      status: 'passes',
      conditions: ['VerifyNoStateInAuthorizationResponse'],
      test: async (c) => {
        const { callback, tokens } = await fapiFlow(c, rp1, { params: { state: undefined } })
        assert.equal(callback.searchParams.get('state'), null, 'no state returned')
        assert.ok(!('s_hash' in tokens.claims()!), 'no s_hash')
      },
    },
    'fapi2-security-profile-final-ensure-authorization-request-without-nonce-success': {
      status: 'passes',
      test: async (c) => {
        const { tokens } = await fapiFlow(c, rp1, { params: { nonce: undefined } })
        assert.ok(!('nonce' in tokens.claims()!), 'no nonce in the ID token')
      },
    },
    'fapi2-security-profile-final-ensure-authorization-request-with-64-char-nonce-success': {
      status: 'passes',
      test: async (c) => {
        const nonce = suiteValue(64)
        assert.equal((await fapiFlow(c, rp1, { params: { nonce } })).tokens.claims()!.nonce, nonce)
      },
    },
    'fapi2-security-profile-final-ensure-other-scope-order-succeeds': {
      status: 'passes',
      test: async (c) => {
        await fapiFlow(c, rp1, { params: { scope: SCOPE.split(' ').reverse().join(' ') } })
      },
    },
    'fapi2-security-profile-final-test-claims-parameter-identity-claims': {
      status: 'passes',
      note: 'claims_parameter_supported is true and claims_supported has name, birthdate, phone_number and phone_number_verified; all are requested for the ID token and userinfo',
      conditions: ['CheckIfOidcStandardClaimsSupported', 'EnsureHttpStatusCodeIs200', 'EnsureContentTypeJson', ...USERINFO_CONDITIONS, 'CheckForUnexpectedClaimsInUserinfo',
        'VerifyUserInfoAndIdTokenInTokenEndpointSameSub', 'EnsureIdentityClaimsContainRequestedClaims'],
      test: async (c) => {
        const d = await c.discovery()
        assert.equal(d.claims_parameter_supported, true)
        const names = (d.claims_supported as string[]).filter((claim) => STANDARD_CLAIMS.includes(claim))
        assert.ok(names.length > 1, 'standard claims are supported (CheckIfOidcStandardClaimsSupported)')
        const requested = claimRequests(names)
        const claims = { id_token: requested, userinfo: requested, [alnum(10)]: { [alnum(10)]: null } }
        const { tokens, key } = await fapiFlow(c, rp1, { params: { claims: JSON.stringify(claims) } })
        const idToken = tokens.claims()!
        // The module calls userinfo_endpoint itself: exactly 200, JSON, valid claims of the same subject.
        const res = await callResource(c, rp1, tokens.access_token, key)
        assert.equal(res.status, 200, 'EnsureHttpStatusCodeIs200')
        assert.match(res.headers.get('content-type') ?? '', /^application\/json/, 'EnsureContentTypeJson')
        const userinfo = await res.json() as Record<string, unknown>
        checkUserinfo(userinfo)
        assert.equal(userinfo.sub, idToken.sub, 'VerifyUserInfoAndIdTokenInTokenEndpointSameSub')
        // CheckForUnexpectedClaimsInUserinfo: only claims ValidateUserInfoStandardClaims knows.
        for (const claim of Object.keys(userinfo)) assert.ok([...STANDARD_CLAIMS, '_claim_names', '_claim_sources', 'txn'].includes(claim), `userinfo has an unknown claim ${claim}`)
        for (const [claim, value] of Object.entries(userinfo)) {
          if (claim === 'phone_number_verified' || claim === 'email_verified') assert.equal(typeof value, 'boolean', claim)
          else if (claim === 'updated_at') assert.equal(typeof value, 'number', claim)
          else if (claim !== 'address') assert.equal(typeof value, 'string', claim)
        }
        // EnsureIdentityClaimsContainRequestedClaims: what was asked for is in the ID token or userinfo.
        for (const claim of names) assert.ok(claim in userinfo || claim in idToken, `${claim} is returned`)
      },
    },
    'fapi2-security-profile-final-access-token-type-header-case-sensitivity': {
      status: 'passes',
      test: async (c) => {
        const { p, callback, key } = await signedIn(c, rp1)
        const tokens = await exchange(p, callback, key)
        await checkTokens(c, p, tokens)
        // SetAccessTokenTypeToInvertedCase: the token_type DPoP as dpOp.
        const at = tokens.access_token
        const res = await rawResource(c, at, [await proof(key, 'GET', `${c.issuer}/me`, { accessToken: at })], { scheme: 'dpOp' })
        assert.equal(res.status, 200, res.text)
        assert.ok(res.headers.date)
      },
    },
    'fapi2-security-profile-final-check-dpop-proof-nbf-exp': {
      status: 'passes',
      test: async (c) => {
        await fapiFlow(c, rp1, { mutate: (_header, payload) => { payload.nbf = epoch(); payload.exp = epoch() + 300 } })
      },
    },
    'fapi2-security-profile-final-ensure-dpopproof-with-iat-10seconds-before-succeeds': {
      status: 'passes',
      test: async (c) => {
        await fapiFlow(c, rp1, { proofAtPar: true, mutate: (_header, payload) => { payload.iat = epoch() - 10 } })
      },
    },
    'fapi2-security-profile-final-ensure-dpopproof-with-iat-10seconds-after-succeeds': {
      status: 'passes',
      note: 'the module sets iat 8 seconds ahead (SetDpopIatTo8SecondsInFuture)',
      test: async (c) => {
        await fapiFlow(c, rp1, { proofAtPar: true, mutate: (_header, payload) => { payload.iat = epoch() + 8 } })
      },
    },
    'fapi2-security-profile-final-ensure-mismatched-dpop-jkt-fails': {
      status: 'passes',
      conditions: ['EnsurePARInvalidRequestOrInvalidDpopProof'],
      test: async (c) => {
        const key = await dpopKey()
        parError(await par(c, rp1, { proofKey: key, params: { dpop_jkt: mangled(key.jkt) } }), [400], ['invalid_request', 'invalid_dpop_proof'])
      },
    },
    'fapi2-security-profile-final-ensure-token-endpoint-fails-with-mismatched-dpop-proof-jkt': {
      status: 'passes',
      conditions: ['CheckTokenEndpointReturnedInvalidRequestGrantOrDPopProofError'],
      test: async (c) => {
        const { p, callback } = await signedIn(c, rp1, { proofAtPar: true })
        tokenError(await tokenRequest(c, codeFields(p, callback), { key: await dpopKey(), assertion: await assertion(c, rp1) }), DPOP_BINDING)
      },
    },
    'fapi2-security-profile-final-ensure-token-endpoint-fails-with-mismatched-dpop-jkt': {
      status: 'passes',
      conditions: ['CheckTokenEndpointReturnedInvalidRequestGrantOrDPopProofError'],
      test: async (c) => {
        const key = await dpopKey()
        const { p, callback } = await signedIn(c, rp1, { key, params: { dpop_jkt: mangled(key.jkt) } })
        tokenError(await tokenRequest(c, codeFields(p, callback), { key, assertion: await assertion(c, rp1) }), DPOP_BINDING)
      },
    },
    'fapi2-security-profile-final-ensure-dpopproof-at-par-endpoint-binding-success': {
      status: 'passes',
      test: async (c) => {
        await fapiFlow(c, rp1, { proofAtPar: true })
      },
    },
    'fapi2-security-profile-final-ensure-dpop-auth-code-binding-success': {
      status: 'passes',
      test: async (c) => {
        const key = await dpopKey()
        await fapiFlow(c, rp1, { key, proofAtPar: true, params: { dpop_jkt: key.jkt } })
      },
    },
    'fapi2-security-profile-final-ensure-different-nonce-inside-and-outside-request-object': {
      status: 'passes',
      note: 'PostCert uses only what was pushed: the login succeeds and the ID token carries the pushed nonce (one of the three outcomes the module accepts)',
      test: async (c) => {
        const { tokens, p } = await fapiFlow(c, rp1, { extra: { nonce: alnum(10) } })
        assert.equal(tokens.claims()!.nonce, p.params.nonce)
      },
    },
    'fapi2-security-profile-final-ensure-different-state-inside-and-outside-request-object': {
      status: 'passes',
      note: 'PostCert uses only what was pushed: the login succeeds and returns the pushed state (one of the three outcomes the module accepts)',
      test: async (c) => {
        const { callback, p } = await fapiFlow(c, rp1, { extra: { state: alnum(10) } })
        assert.equal(callback.searchParams.get('state'), p.params.state)
      },
    },
    'fapi2-security-profile-final-ensure-authorization-request-with-long-nonce': {
      status: 'passes',
      note: 'a 384-character nonce is accepted and returned intact',
      test: async (c) => {
        const nonce = suiteValue(384)
        assert.equal((await fapiFlow(c, rp1, { params: { nonce } })).tokens.claims()!.nonce, nonce)
      },
    },
    'fapi2-security-profile-final-ensure-authorization-request-with-long-state': {
      status: 'passes',
      note: 'a 1000-character state is accepted and returned intact',
      conditions: ['WarningAboutRejectingLongState'],
      test: async (c) => {
        const state = suiteValue(1000)
        assert.equal((await fapiFlow(c, rp1, { params: { state } })).callback.searchParams.get('state'), state)
      },
    },
    'fapi2-security-profile-final-state-only-outside-request-object-not-used': {
      status: 'passes',
      note: 'the state outside the pushed request is ignored: success without state',
      conditions: ['VerifyNoStateInAuthorizationResponse'],
      test: async (c) => {
        const { callback } = await fapiFlow(c, rp1, { params: { state: undefined }, extra: { state: alnum(10) } })
        assert.equal(callback.searchParams.get('state'), null)
      },
    },
    'fapi2-security-profile-final-ensure-request-object-without-redirect-uri-fails': {
      status: 'passes',
      note: 'refused at PAR: 400 invalid_request (FAPI 2.0 clients must send redirect_uri)',
      conditions: ['EnsurePARInvalidRequestOrInvalidRequestObjectError'],
      test: async (c) => {
        parError(await par(c, rp1, { params: { redirect_uri: undefined } }), [400], ['invalid_request', 'invalid_request_object'])
      },
    },
    'fapi2-security-profile-final-plain-fapi-tolerate-unregistered-redirect-uri': {
      status: 'passes',
      note: 'PostCert does not take unregistered redirect URIs at PAR (RFC 9126 2.4 allows either): 400 invalid_request, and no callback',
      conditions: ['EnsurePARInvalidRequestOrInvalidRequestObjectError'],
      test: async (c) => {
        const p = await par(c, rp1, { params: { redirect_uri: `${SUITE}/callback/${alnum(10)}` } })
        parError(p, [400], ['invalid_request', 'invalid_request_object'])
        assert.equal(p.requestUri, undefined)
      },
    },
    'fapi2-security-profile-final-ensure-unsigned-authorization-request-without-using-par-fails': {
      status: 'passes',
      note: 'redirected back with invalid_request (PAR is required)',
      conditions: [...AUTHORIZATION_ERROR, 'EnsureInvalidRequestError'],
      test: async (c) => {
        const verifier = client.randomPKCECodeVerifier()
        const params = { scope: SCOPE, state: suiteValue(10), nonce: suiteValue(10), code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }
        const { step } = await c.authorize(rp1, params)
        const p: Sent = { rp: rp1, params: { ...params, redirect_uri: rp1.redirectUri } }
        assert.equal(errorPageOrRedirect(c, p, step, ['invalid_request']), 'invalid_request')
      },
    },
    'fapi2-security-profile-final-ensure-redirect-uri-in-authorization-request': {
      status: 'passes',
      note: 'refused at PAR: 400 invalid_request (PostCert does not default to the single registered URI for FAPI clients)',
      conditions: ['EnsurePARInvalidRequestOrInvalidRequestObjectError'],
      test: async (c) => {
        parError(await par(c, rp1, { params: { redirect_uri: undefined } }), [400], ['invalid_request', 'invalid_request_object'])
      },
    },
    'fapi2-security-profile-final-ensure-response-type-code-idtoken-fails': {
      status: 'passes',
      note: 'refused at PAR: 400 unsupported_response_type',
      conditions: ['EnsureHttpStatusCodeIs4xx', 'EnsurePARUnsupportedResponseTypeOrInvalidRequestOrUnauthorizedClientError'],
      test: async (c) => {
        const p = await par(c, rp1, { params: { response_type: 'code id_token' } })
        parError(p, FOUR_XX, ['unsupported_response_type', 'invalid_request', 'unauthorized_client'])
        assert.equal(p.res.status, 400, 'EnsurePARUnsupportedResponseTypeOrInvalidRequestOrUnauthorizedClientError')
      },
    },
    'fapi2-security-profile-final-ensure-response-type-token-fails': {
      status: 'passes',
      note: 'refused at PAR: 400 unsupported_response_type',
      conditions: ['EnsureHttpStatusCodeIs4xx', 'EnsurePARUnsupportedResponseTypeOrInvalidRequestOrUnauthorizedClientError'],
      test: async (c) => {
        const p = await par(c, rp1, { params: { response_type: 'token' } })
        parError(p, FOUR_XX, ['unsupported_response_type', 'invalid_request', 'unauthorized_client'])
        assert.equal(p.res.status, 400, 'EnsurePARUnsupportedResponseTypeOrInvalidRequestOrUnauthorizedClientError')
      },
    },
    'fapi2-security-profile-final-ensure-client-id-in-token-endpoint': {
      status: 'passes',
      conditions: ['CheckTokenEndpointHttpStatusIs400Allowing401ForInvalidClientError', ...TOKEN_ERROR, 'CheckErrorFromTokenEndpointResponseErrorInvalidClientOrInvalidGrant'],
      test: async (c) => {
        // Client 1's code with client 2's client_id, and an assertion for client 2 signed with client 1's key.
        const { p, callback, key } = await signedIn(c, rp1)
        const crafted = await assertion(c, rp1, { claims: { iss: rp2.clientId, sub: rp2.clientId } })
        tokenError(await tokenRequest(c, codeFields(p, callback, { client_id: rp2.clientId }), { key, assertion: crafted }), { invalid_client: [400, 401], invalid_grant: [400] })
      },
    },
    'fapi2-security-profile-final-ensure-holder-of-key-required': {
      status: 'passes',
      note: 'the TLS of the authorization, token, userinfo and registration endpoints is checked at the shipped nginx configuration in front',
      conditions: [...TLS_CONDITIONS, 'EnsureHttpStatusCodeIs4xx', 'CheckTokenEndpointHttpStatus400or401', ...TOKEN_ERROR, 'CheckTokenEndpointReturnedInvalidRequestGrantOrDPopProofError'],
      test: async (c) => {
        const metadata = await c.discovery()
        for (const key of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'registration_endpoint']) {
          if (!c.proxy) break // no nginx on this machine: a warning said so
          assert.equal(new URL(metadata[key]).protocol, 'https:', key)
          await checkTls(metadata[key])
        }
        const { p, callback } = await signedIn(c, rp1)
        tokenError(await tokenRequest(c, codeFields(p, callback), { assertion: await assertion(c, rp1) }), DPOP_BINDING)
      },
    },
    'fapi2-security-profile-final-ensure-authorization-code-is-bound-to-client': {
      status: 'passes',
      conditions: INVALID_GRANT_CONDITIONS,
      test: async (c) => {
        // Client 2, correctly authenticated and with its own DPoP key, redeems client 1's code.
        const { p, callback } = await signedIn(c, rp1)
        tokenError(await tokenRequest(c, codeFields(p, callback), { key: await dpopKey(), assertion: await assertion(c, rp2) }), INVALID_GRANT)
      },
    },
    'fapi2-security-profile-final-attempt-reuse-authorization-code-after-one-second': {
      status: 'passes',
      note: 'the second redemption is refused and the access token of the first is revoked',
      conditions: ['ServerAllowedReusingAuthorizationCode', ...INVALID_GRANT_CONDITIONS, 'EnsureHttpStatusCodeIs4xx'],
      test: async (c) => {
        const { p, callback, key, tokens } = await fapiFlow(c, rp1)
        await sleep(1000)
        tokenError(await tokenRequest(c, codeFields(p, callback), { key, assertion: await assertion(c, rp1) }), INVALID_GRANT)
        const at = tokens.access_token
        const res = await rawResource(c, at, [await proof(key, 'GET', `${c.issuer}/me`, { accessToken: at })], { scheme: 'DPoP' })
        assert.equal(res.status, 401, 'the access token was revoked')
      },
    },
    'fapi2-security-profile-final-ensure-token-endpoint-fails-with-expired-auth-code': {
      status: 'passes',
      note: 'really waits 62 s (beside the other modules)',
      conditions: ['ServerAllowedExpiredAuthorizationCode', ...INVALID_GRANT_CONDITIONS],
      waits: 62,
      test: async (c) => {
        const { p, callback, key } = await signedIn(c, rp1)
        await c.wait(62)
        tokenError(await tokenRequest(c, codeFields(p, callback), { key, assertion: await assertion(c, rp1) }), INVALID_GRANT)
      },
    },
    'fapi2-security-profile-final-ensure-signed-client-assertion-with-RS256-fails': {
      status: 'passes',
      note: 'runs with a PS256 client key, as here; with the ES256 keys of conformance:prepare the suite skips it',
      conditions: ['CheckTokenEndpointHttpStatusIs400Allowing401ForInvalidClientError', ...TOKEN_ERROR, 'CheckErrorFromTokenEndpointResponseErrorInvalidClient'],
      test: async (c) => {
        await assertionModule(c, (c) => assertion(c, rp1, { alg: 'RS256' }), INVALID_CLIENT)
      },
    },
    'fapi2-security-profile-final-ensure-client-assertion-in-token-endpoint': {
      status: 'passes',
      conditions: INVALID_CLIENT_OR_REQUEST_CONDITIONS,
      test: async (c) => {
        const { p, callback, key } = await signedIn(c, rp1)
        tokenError(await tokenRequest(c, codeFields(p, callback, { client_id: rp1.clientId }), { key }), INVALID_CLIENT_OR_REQUEST)
      },
    },
    'fapi2-security-profile-final-ensure-client-assertion-with-exp-is-5-minutes-in-past-fails': {
      status: 'passes',
      conditions: INVALID_CLIENT_OR_REQUEST_CONDITIONS,
      test: async (c) => {
        await assertionModule(c, (c) => assertion(c, rp1, { claims: { exp: epoch() - 300 } }), INVALID_CLIENT_OR_REQUEST)
      },
    },
    'fapi2-security-profile-final-ensure-client-assertion-with-wrong-aud-fails': {
      status: 'passes',
      conditions: INVALID_CLIENT_OR_REQUEST_CONDITIONS,
      test: async (c) => {
        await assertionModule(c, (c) => assertion(c, rp1, { aud: 'https://fapidev-rs.authlete.net/api/userinfo' }), INVALID_CLIENT_OR_REQUEST)
      },
    },
    'fapi2-security-profile-final-ensure-client-assertion-with-no-sub-fails': {
      status: 'passes',
      conditions: INVALID_CLIENT_OR_REQUEST_CONDITIONS,
      test: async (c) => {
        await assertionModule(c, (c) => assertion(c, rp1, { drop: ['sub'] }), INVALID_CLIENT_OR_REQUEST)
      },
    },
    'fapi2-security-profile-final-dpop-negative-tests': {
      status: 'passes',
      note: 'the RS256 case runs because the DPoP key is RSA (PS256, the suite\'s default); the issuer has a port in-process, so the default-port htu case sends the URL unchanged',
      conditions: ['EnsureHttpStatusCodeIs400or401', 'EnsureHttpStatusCodeIs200or201'],
      test: async (c) => {
        const { tokens, key } = await fapiFlow(c, rp1)
        const at = tokens.access_token
        const me = `${c.issuer}/me`
        const good = (o: ProofOptions = {}) => proof(key, 'GET', me, { accessToken: at, ...o })
        const change = (mutate: Mutate) => good({ mutate })
        const fixedJti = alnum(15)
        const upper = new URL(me)
        const cases: [string, () => Promise<request.Response>, 'accepted' | 'refused'][] = [
          ['the DPoP header name in capitals', async () => rawResource(c, at, [await good()], { scheme: 'DPoP', header: 'DPOP' }), 'accepted'],
          ['two DPoP proofs', async () => rawResource(c, at, [await good(), await good()], { scheme: 'DPoP' }), 'refused'],
          ['a proof that is no JWS', async () => rawResource(c, at, [await good({ after: (jws) => jws.split('.').slice(0, 2).join('.') })], { scheme: 'DPoP' }), 'refused'],
          ['no typ', async () => rawResource(c, at, [await change((h) => { delete h.typ })], { scheme: 'DPoP' }), 'refused'],
          ['no alg', async () => rawResource(c, at, [await good({ after: (jws) => jws.replace(/^[^.]+/, (h) => Buffer.from(Buffer.from(h, 'base64url').toString().replaceAll('alg', 'alg2')).toString('base64url')) })], { scheme: 'DPoP' }), 'refused'],
          ['no jwk', async () => rawResource(c, at, [await change((h) => { delete h.jwk })], { scheme: 'DPoP' }), 'refused'],
          ...(['jti', 'htm', 'htu', 'iat', 'ath'] as const).map((claim): [string, () => Promise<request.Response>, 'refused'] =>
            [`no ${claim}`, async () => rawResource(c, at, [await change((_h, p) => { delete p[claim] })], { scheme: 'DPoP' }), 'refused']),
          ['typ dpop+jwt+wrongyousee', async () => rawResource(c, at, [await change((h) => { h.typ = 'dpop+jwt+wrongyousee' })], { scheme: 'DPoP' }), 'refused'],
          ['signed RS256', async () => rawResource(c, at, [await change((h) => { h.alg = 'RS256' })], { scheme: 'DPoP' }), 'refused'],
          ['alg none', async () => rawResource(c, at, [await change((h) => { h.alg = 'none' })], { scheme: 'DPoP' }), 'refused'],
          ['a bad signature', async () => rawResource(c, at, [await good({ after: badSignature })], { scheme: 'DPoP' }), 'refused'],
          ['a private key in jwk', async () => rawResource(c, at, [await change((h) => { h.jwk = key.privateJwk as Json })], { scheme: 'DPoP' }), 'refused'],
          ['htm PUT', async () => rawResource(c, at, [await change((_h, p) => { p.htm = 'PUT' })], { scheme: 'DPoP' }), 'refused'],
          ['htu with a query and fragment', async () => rawResource(c, at, [await change((_h, p) => { p.htu = `${me}?allthedoorsonthisspaceshiphavebeen#programmedtohaveacheeryandsunnydisposition` })], { scheme: 'DPoP' }), 'accepted'],
          ['htu without query and fragment', async () => rawResource(c, at, [await good()], { scheme: 'DPoP' }), 'accepted'],
          ['htu of another URL', async () => rawResource(c, at, [await change((_h, p) => { p.htu = `${me}ohnonotagain` })], { scheme: 'DPoP' }), 'refused'],
          ['iat an hour ahead', async () => rawResource(c, at, [await change((_h, p) => { p.iat = epoch() + 3600 })], { scheme: 'DPoP' }), 'refused'],
          ['iat an hour ago', async () => rawResource(c, at, [await change((_h, p) => { p.iat = epoch() - 3600 })], { scheme: 'DPoP' }), 'refused'],
          ['a jti, first use', async () => rawResource(c, at, [await change((_h, p) => { p.jti = fixedJti })], { scheme: 'DPoP' }), 'accepted'],
          ['the same jti again (a "should")', async () => rawResource(c, at, [await change((_h, p) => { p.jti = fixedJti })], { scheme: 'DPoP' }), 'refused'],
          ['a wrong ath', async () => rawResource(c, at, [await change((_h, p) => { p.ath = sha256(`${at}x`) })], { scheme: 'DPoP' }), 'refused'],
          ['another signing key', async () => rawResource(c, at, [await proof(await dpopKey(), 'GET', me, { accessToken: at })], { scheme: 'DPoP' }), 'refused'],
          ['extra header and claim members', async () => rawResource(c, at, [await change((h, p) => { h.tx_id = epoch() + 3600; p.tx_id_key = epoch() + 3600 })], { scheme: 'DPoP' }), 'accepted'],
          ['htu with the scheme and host in capitals', async () => rawResource(c, at, [await change((_h, p) => { p.htu = me.replaceAll(upper.hostname, upper.hostname.toUpperCase()).replaceAll(upper.protocol.slice(0, -1), upper.protocol.slice(0, -1).toUpperCase()) })], { scheme: 'DPoP' }), 'accepted'],
          ['htu with the default port', async () => rawResource(c, at, [await change((_h, p) => { p.htu = upper.port ? me : `${upper.protocol}//${upper.hostname}:${upper.protocol === 'https:' ? 443 : 80}${upper.pathname}` })], { scheme: 'DPoP' }), 'accepted'],
          ['no DPoP proof', async () => rawResource(c, at, [], { scheme: 'DPoP' }), 'refused'],
          ['no DPoP proof, scheme Bearer', async () => rawResource(c, at, [], { scheme: 'Bearer' }), 'refused'],
          ['a correct proof still works', async () => rawResource(c, at, [await good()], { scheme: 'DPoP' }), 'accepted'],
        ]
        for (const [what, send, expected] of cases) {
          const res = await send()
          if (expected === 'accepted') assert.ok(res.status === 200 || res.status === 201, `${what}: ${res.status} ${res.text}`)
          else assert.ok(res.status === 400 || res.status === 401, `${what}: ${res.status}`)
        }
      },
    },
    'fapi2-security-profile-final-refresh-token': {
      status: 'passes',
      note: 'PostCert does not rotate a FAPI client\'s refresh token, so the suite skips the 30-second retry of the previous one',
      conditions: ['EnsureServerConfigurationSupportsRefreshToken', 'EnsureRefreshTokenContainsAllowedCharactersOnly', 'CheckTokenEndpointHttpStatus200',
        'CheckTokenEndpointReturnedJsonContentType', 'CheckTokenEndpointCacheHeaders', 'CheckTokenTypeIsDpop', 'EnsureAccessTokenContainsAllowedCharactersOnly',
        'ExtractExpiresInFromTokenEndpointResponse', 'EnsureMinimumRefreshTokenLength', 'EnsureMinimumRefreshTokenEntropy', 'CompareIdTokenClaims',
        'CheckTokenEndpointHttpStatus400or401', 'CheckTokenEndpointReturnedInvalidClientGrantOrRequestError', 'CheckTokenEndpointHttpStatus400',
        'CheckTokenEndpointReturnedInvalidRequestGrantOrDPopProofError', 'EnsureHttpStatusCodeIs4xx', 'CheckErrorFromTokenEndpointResponseErrorInvalidGrant'],
      test: async (c) => {
        /** One client's part: login with prompt=consent (offline_access), refresh with a new DPoP key (RefreshTokenRequestSteps). */
        const refreshing = async (rp: FapiRp, first: boolean, browser?: request.Agent) => {
          const flow = await signedIn(c, rp, { params: { prompt: 'consent' }, browser })
          const tokens = await exchange(flow.p, flow.callback, flow.key)
          await checkTokens(c, flow.p, tokens)
          const rt = tokens.refresh_token
          assert.ok(rt, 'a refresh token for offline_access with prompt=consent')
          assert.match(rt, /^[\x20-\x7E]+$/, 'EnsureRefreshTokenContainsAllowedCharactersOnly')
          assert.ok((await c.discovery()).grant_types_supported.includes('refresh_token'), 'EnsureServerConfigurationSupportsRefreshToken')
          await sleep(1000)
          const key = await dpopKey()
          const refreshed = await client.refreshTokenGrant(rp.config, rt, first ? { scope: SCOPE } : undefined, { DPoP: dpopHandle(rp, key) })
          assert.match(rp.last.headers?.get('cache-control') ?? '', /(^|,)\s*no-store\s*(,|$)/, 'CheckTokenEndpointCacheHeaders')
          assert.match(rp.last.headers?.get('content-type') ?? '', /^application\/json/, 'CheckTokenEndpointReturnedJsonContentType')
          assert.equal(refreshed.token_type, 'dpop', 'CheckTokenTypeIsDpop')
          checkTokenResponse(refreshed)
          assert.equal(typeof refreshed.expires_in, 'number', 'ExtractExpiresInFromTokenEndpointResponse')
          assert.match(refreshed.access_token, /^[\x20-\x7E]+$/, 'EnsureAccessTokenContainsAllowedCharactersOnly')
          unguessable(refreshed.access_token, 'the refreshed access token')
          assert.notEqual(refreshed.access_token, tokens.access_token)
          if (refreshed.id_token) {
            // CompareIdTokenClaims: same iss, sub, aud, azp and auth_time, a later iat.
            const [before, after] = [tokens.claims()!, refreshed.claims()!]
            for (const claim of ['iss', 'sub', 'aud', 'azp', 'auth_time'] as const) assert.deepEqual(after[claim], before[claim], claim)
            assert.ok(after.iat > before.iat, 'a later iat')
          }
          // PostCert keeps a FAPI client's refresh token (FAPI 2.0 5.3.2.1-9): no 30-second retry of the previous one.
          assert.ok(refreshed.refresh_token === undefined || refreshed.refresh_token === rt, 'not rotated')
          return { rt, key, access: refreshed.access_token, browser: flow.browser }
        }
        const one = await refreshing(rp1, true)
        const refresh = { grant_type: 'refresh_token', refresh_token: one.rt, scope: SCOPE }
        // Without client authentication (RFC 6749 section 6), with a proof.
        tokenError(await tokenRequest(c, refresh, { key: one.key }), INVALID_CLIENT_GRANT_OR_REQUEST)
        // Authenticated, without a DPoP proof.
        tokenError(await tokenRequest(c, refresh, { assertion: await assertion(c, rp1) }), DPOP_BINDING)
        await resourceOk(c, rp1, one.access, one.key, { headers: fapiHeaders() })
        // The second client, in the same browser.
        const two = await refreshing(rp2, false, one.browser)
        await resourceOk(c, rp2, two.access, two.key)
        // Client 1's DPoP key with client 2's access token: 4xx.
        await assert.rejects(callResource(c, rp1, two.access, one.key), (err: client.WWWAuthenticateChallengeError) => err.status >= 400 && err.status < 500)
        // Client 2's refresh token used by client 1 (RefreshTokenRequestExpectingErrorSteps, no scope as for the second client).
        tokenError(await tokenRequest(c, { grant_type: 'refresh_token', refresh_token: two.rt }, { key: one.key, assertion: await assertion(c, rp1) }), INVALID_GRANT)
      },
    },
    'fapi2-security-profile-final-par-ensure-reused-request-uri-prior-to-auth-completion-succeeds': {
      status: 'passes',
      note: 'the login page is opened and left, then the same request_uri opened again and the login completed',
      conditions: ['WarningAboutRequestUriError'],
      test: async (c) => {
        const p = await pushed(c, rp1)
        const path = authorizationPath(p)
        const browser = c.browser()
        const first = await visit(c, path, browser)
        assert.match(first.step.path ?? '', /^\/interaction\//, 'the login page, not logged in')
        const again = await visit(c, path, browser)
        assert.match(again.step.path ?? '', /^\/interaction\//, 'the login page again')
        const callback = await signIn(c, browser, again.step)
        checkCallback(c, p, callback)
        const key = await dpopKey()
        const tokens = await exchange(p, callback, key)
        await checkTokens(c, p, tokens)
        await resourceOk(c, rp1, tokens.access_token, key, { headers: fapiHeaders() })
      },
    },
    'fapi2-security-profile-final-par-attempt-reuse-request_uri': {
      status: 'passes',
      note: 'the used request_uri is refused: invalid_request_uri back at the redirect URI',
      conditions: ['EnsureInvalidRequestUriError', 'EnsureErrorFromAuthorizationEndpointResponse'],
      test: async (c) => {
        const { p, browser } = await fapiFlow(c, rp1)
        const { step } = await visit(c, authorizationPath(p), browser)
        assert.equal(errorPageOrRedirect(c, p, step, ['invalid_request_uri']), 'invalid_request_uri')
      },
    },
    'fapi2-security-profile-final-par-attempt-to-use-request_uri-for-different-client': {
      status: 'passes',
      note: 'an error page, 400 invalid_redirect_uri: the URL carries client 1\'s redirect_uri (a duplicate of the pushed one), which client 2 has not registered',
      conditions: ['EnsureInvalidRequestInvalidRequestObjectOrInvalidRequestUriError'],
      test: async (c) => {
        const p = await pushed(c, rp1)
        const { step } = await visit(c, authorizationPath(p, { clientId: rp2.clientId }))
        errorPageOrRedirect(c, p, step, ['invalid_request', 'invalid_request_object', 'invalid_request_uri'])
      },
    },
    'fapi2-security-profile-final-par-attempt-to-use-expired-request_uri': {
      status: 'passes',
      note: 'really waits expires_in (60 s, beside the other modules)',
      conditions: ['EnsureInvalidRequestUriError'],
      waits: 60,
      test: async (c) => {
        const p = await pushed(c, rp1)
        assert.ok(p.res.body.expires_in <= 60, 'short enough for the suite to wait')
        await c.wait(p.res.body.expires_in)
        const { step } = await visit(c, authorizationPath(p))
        assert.equal(errorPageOrRedirect(c, p, step, ['invalid_request_uri']), 'invalid_request_uri')
      },
    },
    'fapi2-security-profile-final-par-ensure-jwt-client-assertions-nbf-8-seconds-in-the-future-is-accepted': {
      status: 'passes',
      conditions: ['CheckPAREndpointResponse201WithNoError'],
      test: async (c) => {
        const ahead = epoch() + 8
        await fapiFlow(c, rp1, { parAssertion: await assertion(c, rp1, { claims: { iat: ahead, nbf: ahead } }) })
      },
    },
    'fapi2-security-profile-final-par-ensure-jwt-client-assertions-nbf-over-60-seconds-in-the-future-fails': {
      status: 'passes',
      conditions: PAR_ASSERTION_CONDITIONS,
      test: async (c) => {
        const ahead = epoch() + 62
        await parAssertionModule(c, assertion(c, rp1, { claims: { iat: ahead, nbf: ahead, exp: ahead + 60 } }))
      },
    },
    'fapi2-security-profile-final-par-authorization-request-containing-request_uri-form-param': {
      status: 'passes',
      conditions: ['EnsurePARInvalidRequestOrInvalidRequestObjectOrRequestUriNotSupportedError'],
      test: async (c) => {
        const p = await par(c, rp1, { params: { request_uri: 'urn:fdc:authlete.com:E2ooXxELkEFSKR90ymYV-BbwAvCC2TozHfSb_mMCw2s' } })
        parError(p, [400], ['invalid_request', 'invalid_request_object', 'request_uri_not_supported'])
      },
    },
    'fapi2-security-profile-final-par-attempt-invalid-http-method': {
      status: 'passes',
      conditions: ['EnsureParHTTPError'],
      test: async (c) => {
        const p = await par(c, rp1, { method: 'put' })
        assert.ok(p.res.status >= 400 && p.res.status < 600, `PUT answered ${p.res.status}`)
      },
    },
    'fapi2-security-profile-final-par-ensure-pkce-required': {
      status: 'passes',
      note: 'refused at PAR: 400 invalid_request',
      conditions: ['EnsurePARInvalidRequestError'],
      test: async (c) => {
        parError(await par(c, rp1, { params: { code_challenge: undefined, code_challenge_method: undefined } }), [400], ['invalid_request'])
      },
    },
    'fapi2-security-profile-final-ensure-pkce-code-verifier-required': {
      status: 'passes',
      conditions: INVALID_GRANT_CONDITIONS,
      test: async (c) => {
        const { p, callback, key } = await signedIn(c, rp1)
        tokenError(await tokenRequest(c, codeFields(p, callback, { code_verifier: undefined }), { key, assertion: await assertion(c, rp1) }), INVALID_GRANT)
      },
    },
    'fapi2-security-profile-final-incorrect-pkce-code-verifier-rejected': {
      status: 'passes',
      conditions: INVALID_GRANT_CONDITIONS,
      test: async (c) => {
        const { p, callback, key } = await signedIn(c, rp1)
        tokenError(await tokenRequest(c, codeFields(p, callback, { code_verifier: client.randomPKCECodeVerifier() }), { key, assertion: await assertion(c, rp1) }), INVALID_GRANT)
      },
    },
    'fapi2-security-profile-final-par-plain-pkce-rejected': {
      status: 'passes',
      note: 'refused at PAR: 400 invalid_request',
      conditions: ['EnsurePARInvalidRequestError'],
      test: async (c) => {
        const verifier = client.randomPKCECodeVerifier()
        parError(await par(c, rp1, { params: { code_challenge: verifier, code_challenge_method: 'plain' } }), [400], ['invalid_request'])
      },
    },
    'fapi2-security-profile-final-par-without-duplicate-parameters': {
      status: 'passes',
      test: async (c) => {
        await fapiFlow(c, rp1, { duplicates: false })
      },
    },
    'fapi2-security-profile-final-par-test-array-as-audience-fails': {
      status: 'passes',
      conditions: PAR_ASSERTION_CONDITIONS,
      test: async (c) => {
        await parAssertionModule(c, assertion(c, rp1, { aud: [c.issuer, `${c.issuer}/token`] }))
      },
    },
    'fapi2-security-profile-final-par-test-par-endpoint-url-as-audience-fails': {
      status: 'passes',
      conditions: PAR_ASSERTION_CONDITIONS,
      test: async (c) => {
        await parAssertionModule(c, assertion(c, rp1, { aud: `${c.issuer}/request` }))
      },
    },
    'fapi2-security-profile-final-par-test-token-endpoint-url-as-audience-fails': {
      status: 'passes',
      conditions: PAR_ASSERTION_CONDITIONS,
      test: async (c) => {
        await parAssertionModule(c, assertion(c, rp1, { aud: `${c.issuer}/token` }))
      },
    },
  },
}
