import assert from 'node:assert/strict'
import tls from 'node:tls'
import * as jose from 'jose'

// The conformance suite's shared conditions (net.openid.conformance.condition), as assertions.
// Each function names the conditions it stands for; their severity in the suite is in
// docs/conformance.md. A WARNING is asserted like a FAILURE: PostCert meets both.

type Json = Record<string, any>

/** VSCHAR without `"` and `\` (RFC 6749 appendix A.7, A.8): error codes and descriptions. */
const ERROR_TEXT = /^[\x20\x21\x23-\x5B\x5D-\x7E]+$/
/** NQSCHAR-ish: what an error_uri may hold (ValidateErrorUri...). */
const ERROR_URI = /^[\x21\x23-\x5B\x5D-\x7E]+$/

/**
 * EnsureMinimum...Length and EnsureMinimum...Entropy (AbstractEnsureMinimumEntropy): at least
 * 128 bits long, and Shannon entropy per character times the length above 96 bits.
 */
export function unguessable(value: string | undefined, what: string, bits = 96): void {
  assert.ok(value && Buffer.byteLength(value) * 8 >= 128, `${what} is at least 128 bits long`)
  const counts = new Map<string, number>()
  for (const char of value) counts.set(char, (counts.get(char) ?? 0) + 1)
  const perChar = -[...counts.values()].reduce((sum, n) => sum + (n / value.length) * Math.log2(n / value.length), 0)
  assert.ok(perChar * value.length > bits, `${what} has more than ${bits} bits of entropy (${(perChar * value.length).toFixed(0)})`)
}

/**
 * GetDynamicServerConfiguration, CheckServerConfiguration, ExtractTLSTestValuesFromServerConfiguration,
 * SetProtectedResourceUrlToUserInfoEndpoint, EnsureServerConfigurationSupports<auth method>:
 * what every module checks of the discovery document before it starts.
 */
export function checkServerConfiguration(doc: Json, authMethod?: string): void {
  assert.ok(doc && typeof doc === 'object' && !Array.isArray(doc), 'discovery is a JSON object')
  for (const key of ['issuer', 'authorization_endpoint', 'token_endpoint', 'userinfo_endpoint']) {
    assert.ok(typeof doc[key] === 'string' && URL.canParse(doc[key]), `${key} is a URL`)
  }
  for (const key of ['registration_endpoint', 'jwks_uri']) if (doc[key] !== undefined) assert.ok(URL.canParse(doc[key]), `${key} is a URL`)
  if (authMethod) assert.ok(doc.token_endpoint_auth_methods_supported?.includes(authMethod), `token_endpoint_auth_methods_supported has ${authMethod}`)
}

/**
 * ValidateJwksSequence (EnsureJwksHasNoPrivateOrSymmetricKeyMaterial, ValidateJwksStructure,
 * ParseUsableJwksKeys, WarnOnUnusableJwksKeys), CheckServerKeysIsValid, CheckForKeyIdInServerJWKs,
 * CheckDistinctKeyIdValueInServerJWKs, and FAPI2FinalEnsureMinimumServerKeyLength: the server's
 * JWKS as every module fetches it.
 */
export async function checkServerJwks(jwks: Json): Promise<void> {
  assert.ok(Array.isArray(jwks?.keys) && jwks.keys.length > 0, 'keys is a non-empty array')
  const kids = new Set<string>()
  for (const key of jwks.keys as Json[]) {
    assert.ok(key && typeof key.kty === 'string', 'each key has a kty')
    assert.notEqual(key.kty, 'oct', 'no symmetric key')
    for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k']) assert.ok(!(secret in key), `no private member ${secret}`)
    const members = key.kty === 'RSA' ? ['n', 'e'] : key.kty === 'EC' ? ['x', 'y', 'crv'] : key.kty === 'OKP' ? ['x', 'crv'] : []
    assert.ok(members.length, `a key type the suite uses: ${key.kty}`)
    for (const m of members.filter((m) => m !== 'crv')) assert.match(String(key[m]), /^[A-Za-z0-9_-]+$/, `${m} is unpadded base64url`)
    if (key.kty === 'EC') assert.ok(['P-256', 'P-384', 'P-521', 'secp256k1'].includes(key.crv), `a known curve: ${key.crv}`)
    if (key.use !== undefined) assert.ok(['sig', 'enc'].includes(key.use))
    // Nimbus (CheckServerKeysIsValid) refuses a key whose use and key_ops disagree.
    if (key.use === 'sig' && key.key_ops !== undefined) assert.ok(key.key_ops.every((op: string) => op === 'verify' || op === 'sign'), 'key_ops fit use sig')
    assert.ok(typeof key.kid === 'string' && key.kid.trim(), 'each key has a kid')
    assert.ok(!kids.has(key.kid), `kid ${key.kid} is unique`)
    kids.add(key.kid)
    await jose.importJWK({ ...key, alg: key.alg ?? (key.kty === 'RSA' ? 'RS256' : key.kty === 'EC' ? 'ES256' : 'EdDSA') })
    // FAPI2FinalEnsureMinimumServerKeyLength: RSA at least 2048 bits, EC at least 224 (every key PostCert publishes meets it).
    if (key.kty === 'RSA') assert.ok(Buffer.from(key.n, 'base64url').length * 8 >= 2048, `RSA key ${key.kid} of at least 2048 bits`)
    if (key.kty === 'EC') assert.ok(Buffer.from(key.x, 'base64url').length * 8 >= 224, `EC key ${key.kid} of at least 224 bits`)
  }
}

export interface IdTokenExpectations {
  issuer: string
  clientId: string
  jwks: Json
  /** The nonce sent, or undefined when none was (the token must then have none). */
  nonce?: string
  /** False for an ID token from a refresh, whose nonce the suite does not check. */
  checkNonce?: boolean
  /** The code and access token of the same response, for c_hash and at_hash when present. */
  code?: string
  accessToken?: string
}

/**
 * PerformStandardIdTokenChecks: ValidateIdToken, ValidateIdTokenStandardClaims,
 * ValidateIdTokenNonce, ValidateIdTokenACRClaimAgainstRequest, ValidateIdTokenSignature (the key
 * its kid names, of a type and alg that fit the header), CheckForSubjectInIdToken,
 * EnsureIdTokenUpdatedAtValid, and ValidateAtHash / ValidateCHash when present.
 */
export async function checkIdToken(idToken: string, expected: IdTokenExpectations): Promise<jose.JWTPayload> {
  const header = jose.decodeProtectedHeader(idToken)
  const candidates = (expected.jwks.keys as Json[]).filter((k) => (header.kid === undefined || k.kid === header.kid)
    && (k.use === undefined || k.use === 'sig') && (k.alg === undefined || k.alg === header.alg))
  assert.equal(candidates.length, 1, `one key of the JWKS for kid ${header.kid} and ${header.alg}`)
  const { payload } = await jose.compactVerify(idToken, await jose.importJWK(candidates[0] as jose.JWK, header.alg))
  const claims = JSON.parse(Buffer.from(payload).toString()) as jose.JWTPayload & Json
  const now = Date.now() / 1000
  assert.equal(claims.iss, expected.issuer, 'iss')
  assert.ok(claims.aud === expected.clientId || (Array.isArray(claims.aud) && claims.aud.includes(expected.clientId)), 'aud')
  assert.ok(typeof claims.exp === 'number' && claims.exp > now - 300 && claims.exp < now + 50 * 365 * 86400, 'exp')
  assert.ok(typeof claims.iat === 'number' && claims.iat < now + 300 && claims.iat > now - 300, 'iat within five minutes of now')
  if (claims.auth_time !== undefined) assert.ok(typeof claims.auth_time === 'number' && claims.auth_time < now + 300 && claims.auth_time > now - 365 * 86400, 'auth_time')
  if (claims.acr !== undefined) assert.ok(typeof claims.acr === 'string' && claims.acr !== '', 'acr')
  if (expected.checkNonce !== false) assert.equal(claims.nonce, expected.nonce, 'nonce')
  assert.ok(typeof claims.sub === 'string' && claims.sub.length > 0 && claims.sub.length <= 255 && /^[\x20-\x7E]+$/.test(claims.sub), 'sub')
  checkStandardClaims(claims, 'ID token')
  for (const [name, value] of [['at_hash', expected.accessToken], ['c_hash', expected.code]] as const) {
    if (claims[name] === undefined || value === undefined) continue
    const bits = Number(header.alg!.slice(2))
    const digest = await crypto.subtle.digest(`SHA-${bits}`, new TextEncoder().encode(value))
    assert.equal(claims[name], Buffer.from(digest.slice(0, digest.byteLength / 2)).toString('base64url'), name)
  }
  return claims
}

/** The claims ValidateIdTokenStandardClaims / ValidateUserInfoStandardClaims type-check. */
const STRING_CLAIMS = ['name', 'given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username', 'profile', 'picture', 'website', 'email', 'gender', 'zoneinfo', 'locale', 'phone_number']
const NOT_IDENTITY = new Set(['iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'acr', 'amr', 'azp', 'c_hash', 'at_hash', 's_hash', 'jti', 'nbf', 'verified_claims'])

/** ValidateIdTokenStandardClaims, ValidateUserInfoStandardClaims, EnsureUserInfoUpdatedAtValid. */
export function checkStandardClaims(claims: Json, where: string): void {
  assert.ok(Object.keys(claims).some((k) => !NOT_IDENTITY.has(k)), `${where}: identity claims`)
  for (const name of STRING_CLAIMS) {
    if (name in claims) assert.ok(typeof claims[name] === 'string' && claims[name].trim() && claims[name] !== 'null', `${where}: ${name} is a non-blank string`)
  }
  for (const name of ['email_verified', 'phone_number_verified']) if (name in claims) assert.equal(typeof claims[name], 'boolean', `${where}: ${name}`)
  if ('birthdate' in claims) {
    const match = /^(\d{4})(-\d{2}-\d{2})?$|^0000-\d{2}-\d{2}$/.exec(String(claims.birthdate))
    assert.ok(match, `${where}: birthdate is YYYY-MM-DD, 0000-MM-DD or YYYY`)
    if (match[1]) assert.ok(Number(match[1]) >= 1850 && Number(match[1]) <= new Date().getFullYear(), `${where}: birth year`)
  }
  if ('address' in claims) assert.ok(typeof claims.address === 'object' && Object.values(claims.address).every((v) => typeof v === 'string'), `${where}: address`)
  if ('updated_at' in claims) assert.ok(typeof claims.updated_at === 'number' && claims.updated_at >= 631152000 && claims.updated_at < Date.now() / 1000 + 300, `${where}: updated_at`)
}

/**
 * performGenericAuthorizationEndpointErrorResponseValidation: CheckStateInAuthorizationResponse,
 * ValidateIssIfPresentInAuthorizationResponse, EnsureErrorFromAuthorizationEndpointResponse,
 * RejectAuthCodeInAuthorizationEndpointResponse, CheckForUnexpectedParametersInErrorResponseFromAuthorizationEndpoint,
 * the error description's and URI's characters. Returns the error.
 */
export function checkAuthorizationError(callback: URL, issuer: string, state?: string, redirectUri?: string): string {
  const params = callback.searchParams
  assert.equal(params.get('code'), null, 'no code with an error')
  assert.equal(new URLSearchParams(callback.hash.slice(1)).get('code'), null, 'no code in the fragment')
  if (state !== undefined) assert.equal(params.get('state'), state, 'state echoed exactly')
  else assert.equal(params.get('state'), null, 'no state when none was sent')
  if (params.has('iss')) assert.equal(params.get('iss'), issuer, 'iss is the issuer')
  const error = params.get('error')
  assert.ok(error, 'an error')
  // The redirect URI's own query comes back too (CheckMatchingCallbackParameters).
  const own = redirectUri ? [...new URL(redirectUri).searchParams.keys()] : []
  const allowed = new Set(['error', 'error_description', 'error_uri', 'state', 'session_state', 'iss', ...own])
  for (const key of params.keys()) assert.ok(allowed.has(key), `no unexpected parameter ${key} in the error response`)
  const description = params.get('error_description')
  if (description !== null) assert.match(description, /^[\x09\x0A\x0D\x20\x21\x23-\x5B\x5D-\x7E]+$/, 'error_description characters')
  if (description !== null) assert.doesNotMatch(description, /[\r\n\t]/, 'no CR, LF or TAB in error_description')
  const uri = params.get('error_uri')
  if (uri !== null) assert.ok(URL.canParse(uri) && ERROR_URI.test(uri), 'error_uri')
  return error
}

/**
 * A token endpoint error as the modules check it: CheckTokenEndpointHttpStatus400 (or 401 for
 * invalid_client), CheckTokenEndpointReturnedJsonContentType, ValidateErrorFromTokenEndpointResponseError,
 * the description's and URI's characters. Returns the error.
 */
export function checkTokenError(status: number, contentType: string | undefined | null, body: Json): string {
  assert.match(String(contentType), /^application\/json/, 'a JSON error')
  const { error, error_description: description, error_uri: uri } = body
  assert.ok(typeof error === 'string' && ERROR_TEXT.test(error), 'error characters')
  assert.ok(status === 400 || (status === 401 && error === 'invalid_client'), `400 (401 only for invalid_client), not ${status} ${error}`)
  if (description !== undefined) {
    assert.match(description, ERROR_TEXT, 'error_description characters')
  }
  if (uri !== undefined) assert.ok(URL.canParse(uri) && ERROR_URI.test(uri), 'error_uri')
  return error
}

/**
 * Token endpoint success as every module checks it: CheckTokenEndpointHttpStatus200,
 * CheckForAccessTokenValue (access_token and token_type), ValidateExpiresIn (a number, above 0,
 * at most a year), EnsureRefreshTokenContainsAllowedCharactersOnly when there is one.
 */
export function checkTokenResponse(body: Json): void {
  assert.ok(typeof body.access_token === 'string' && body.access_token, 'access_token')
  assert.ok(typeof body.token_type === 'string' && body.token_type, 'token_type')
  if (body.expires_in !== undefined) assert.ok(typeof body.expires_in === 'number' && body.expires_in > 0 && body.expires_in <= 31536000, 'expires_in')
  if (body.refresh_token !== undefined) assert.match(body.refresh_token, /^[\x20-\x7E]+$/, 'refresh_token characters')
}

/** RFC 9325 (BCP 195) section 4.2: the TLS 1.2 suites FAPITLSClient offers for BCP 195. */
export const BCP195_TLS12_CIPHERS = ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384']

/** A TLS handshake with `url`'s host and port; the protocol and suite agreed, or the error. */
async function handshake(url: string, options: tls.ConnectionOptions): Promise<{ protocol?: string | null; cipher?: string; error?: string }> {
  const { hostname, port } = new URL(url)
  return await new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port: Number(port || 443), servername: hostname, ...options }, () => {
      resolve({ protocol: socket.getProtocol(), cipher: socket.getCipher().name })
      socket.end()
    })
    socket.once('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }))
  })
}

/**
 * The suite's TLS checks of an endpoint (EnsureTLS12RequireBCP195Ciphers, DisallowTLS10,
 * DisallowTLS11, EnsureTLS13PreferredOverTLS12) and what BCP 195 asks beyond them: TLS 1.2 with
 * the BCP 195 suites and TLS 1.3 are agreed, 1.3 when both are offered; TLS 1.0, 1.1 and any
 * other TLS 1.2 suite are refused by the server (its alert, not a client that could not offer them).
 */
export async function checkTls(url: string): Promise<void> {
  const bcp = await handshake(url, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: BCP195_TLS12_CIPHERS.join(':') })
  assert.equal(bcp.protocol, 'TLSv1.2', `TLS 1.2 with the BCP 195 suites: ${bcp.error}`)
  assert.ok(BCP195_TLS12_CIPHERS.includes(bcp.cipher!), bcp.cipher)
  assert.equal((await handshake(url, { minVersion: 'TLSv1.3' })).protocol, 'TLSv1.3', 'TLS 1.3')
  assert.equal((await handshake(url, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' })).protocol, 'TLSv1.3', 'TLS 1.3 is preferred over TLS 1.2')
  for (const version of ['TLSv1', 'TLSv1.1'] as const) {
    const old = await handshake(url, { minVersion: version, maxVersion: version, ciphers: 'DEFAULT:@SECLEVEL=0' })
    assert.equal(old.error, 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION', `${version} is refused by the server`)
  }
  const weak = await handshake(url, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'AES128-GCM-SHA256:AES256-SHA256:ECDHE-RSA-AES128-SHA:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256' })
  assert.equal(weak.error, 'ERR_SSL_SSL/TLS_ALERT_HANDSHAKE_FAILURE', `no other TLS 1.2 suite: ${weak.cipher}`)
}

/**
 * CheckForDPoPNonceInResponse-style checks of a response's DPoP-Nonce header (PAR, token,
 * resource): absent, or one non-empty NQCHAR value.
 */
export function checkDpopNonceHeader(headers: { get(name: string): string | null } | Record<string, unknown>): void {
  const value = typeof (headers as Headers).get === 'function' ? (headers as Headers).get('dpop-nonce') : (headers as Record<string, unknown>)['dpop-nonce'] as string | string[] | undefined
  if (value === null || value === undefined) return
  assert.ok(!Array.isArray(value) && !String(value).includes(','), 'one DPoP-Nonce header')
  assert.match(String(value), /^[\x21\x23-\x5B\x5D-\x7E]+$/, 'DPoP-Nonce is NQCHAR')
}

/** The resource response's Date (a valid HTTP date within five minutes of now) and x-fapi-interaction-id (the one sent, when it is returned). */
export function checkResourceHeaders(headers: Headers, sentInteractionId?: string): void {
  const date = Date.parse(headers.get('date') ?? '')
  assert.ok(Number.isFinite(date) && Math.abs(date - Date.now()) <= 300_000, `a Date header within five minutes: ${headers.get('date')}`)
  const interaction = headers.get('x-fapi-interaction-id')
  if (interaction !== null) {
    assert.match(interaction, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'x-fapi-interaction-id is a UUID')
    if (sentInteractionId) assert.equal(interaction, sentInteractionId, 'the x-fapi-interaction-id sent comes back')
  }
  checkDpopNonceHeader(headers)
}
