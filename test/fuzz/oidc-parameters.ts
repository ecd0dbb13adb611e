// OpenID Connect: the parameters its requests share (the authorization request's, client
// authentication).

import fc from 'fast-check'
import { anyJson } from './bodies.ts'
import { headerText } from './headers.ts'
import { clientJwt, dpopProof, jwtText, ownJwt } from './jws.ts'
import { b64u, b64uBytes, encode, fields, literal, sometimes, text, wire, type Arb, type Field } from './wire.ts'

export const SCOPES = ['openid', 'offline_access', 'profile', 'phone', 'ci', 'certificate', 'signatures', 'email', 'address']
export const scope = fc.subarray(SCOPES).map((list) => encode(list.join(' ')))
/** The registered client and its redirect URI mostly; PostCert's own portal client, or one that does not exist. */
export const redirectUri = fc.oneof({ arbitrary: literal('{{redirect_uri}}'), weight: 6 },
  { arbitrary: literal(encode('https://fuzz.example.kr/cb?x=1'), encode('https://evil.example/cb'), encode('http://127.0.0.1:9/cb')), weight: 1 })
export const clientId = fc.oneof({ arbitrary: literal('{{client_id}}'), weight: 6 }, { arbitrary: literal('postcert-account', 'pc_unknown'), weight: 1 })
export const signatureDetail = fc.record({
  type: fc.oneof(fc.constant('postcert_signature'), text),
  documents: fc.oneof(fc.array(fc.record({ title: text, text: text, text_format: fc.oneof(fc.constantFrom('markdown', 'plain'), text), sha256: fc.oneof(b64uBytes(32), text), mime_type: text }, { requiredKeys: [] }), { maxLength: 3 }), anyJson),
  transaction: fc.oneof(fc.record({ amount: text, currency: fc.oneof(fc.constant('KRW'), text), payee: text, account: text }, { requiredKeys: [] }), anyJson),
}, { requiredKeys: [] })
const claimsRequest = fc.record({
  id_token: fc.dictionary(fc.oneof(fc.constantFrom('acr', 'ci', 'certificate', 'phone_number', 'name', 'auth_time'), fc.string()),
    fc.oneof(fc.constant(null), fc.record({ essential: fc.boolean(), value: anyJson, values: fc.array(anyJson, { maxLength: 3 }) }, { requiredKeys: [] })), { maxKeys: 4 }),
  userinfo: fc.jsonValue({ maxDepth: 2 }),
}, { requiredKeys: [] })

export const authorizationParameters = fields({
  client_id: clientId,
  redirect_uri: redirectUri,
  response_type: fc.oneof({ arbitrary: literal('code'), weight: 6 }, { arbitrary: literal('code id_token', 'token', 'id_token', 'none', 'code%20token'), weight: 1 }),
  scope: fc.oneof({ arbitrary: literal('openid', 'openid%20profile%20phone', 'openid%20offline_access'), weight: 3 }, { arbitrary: scope, weight: 1 }),
  state: b64uBytes(16),
  nonce: b64uBytes(16),
  code_challenge: fc.uint8Array({ minLength: 32, maxLength: 32 }).map(b64u),
  code_challenge_method: fc.oneof({ arbitrary: literal('S256'), weight: 6 }, { arbitrary: literal('plain', 's256'), weight: 1 }),
}, {
  state: wire(text),
  nonce: wire(text),
  prompt: literal('login', 'consent', 'none', 'select_account', 'create', 'login%20consent', 'none%20login'),
  max_age: fc.oneof(fc.integer().map(String), literal('0', '-1', '1e3', '99999999999999999999')),
  ui_locales: literal('ko', 'en', 'en%20ko', 'fr', 'en-US'),
  acr_values: literal('loa:high', 'loa:substantial', 'loa:low', 'loa:high%20loa:low', 'urn:x'),
  claims: fc.oneof(claimsRequest.map((c) => encode(JSON.stringify(c))), fc.json({ maxDepth: 2 }).map(encode)),
  authorization_details: fc.oneof(fc.array(signatureDetail, { maxLength: 2 }).map((d) => encode(JSON.stringify(d))), fc.json({ maxDepth: 2 }).map(encode)),
  request: ownJwt('request_jwt').map(encode),
  request_uri: fc.oneof(wire(text).map((t) => `urn:ietf:params:oauth:request_uri:${t}`), redirectUri),
  login_hint: wire(text),
  id_token_hint: fc.oneof(literal('{{id_token}}'), jwtText.map(encode)),
  response_mode: literal('query', 'fragment', 'form_post', 'jwt', 'query.jwt'),
  resource: literal(encode('https://evil.example/'), '{{issuer}}/signatures', 'urn:x'),
  dpop_jkt: b64uBytes(32),
  registration: fc.json({ maxDepth: 2 }).map(encode),
}, 16)

/** Client authentication for the back-channel endpoints: Basic (valid or not), in the body, a JWT assertion, or none. */
export const clientAuthHeaders: Arb<Record<string, string | undefined>> = fc.record({
  authorization: fc.oneof(
    { arbitrary: fc.constant('Basic {{basic}}'), weight: 4 },
    { arbitrary: fc.tuple(fc.string(), fc.string()).map(([id, secret]) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`), weight: 1 },
    { arbitrary: fc.oneof(fc.constantFrom('Basic', 'Basic ', 'Basic ===', 'Bearer {{access_token}}', 'Basic {{basic}}, Basic {{basic}}'), headerText.map((t) => `Basic ${t}`)), weight: 1 },
    { arbitrary: fc.constant(undefined), weight: 2 },
  ),
  dpop: sometimes(ownJwt('dpop_jwt'), 3),
})
/** What clientAuthHeaders and clientAuthFields name: a DPoP proof and a client assertion. */
export const clientJwts = fc.record({ dpop_jwt: dpopProof, assertion_jwt: clientJwt })
/** Client authentication in the body instead (or as well: refused), now and then. */
export const clientAuthFields = fields({}, {
  client_id: clientId,
  client_secret: literal('{{client_secret}}', 'wrong'),
  client_assertion_type: literal(encode('urn:ietf:params:oauth:client-assertion-type:jwt-bearer')),
  client_assertion: ownJwt('assertion_jwt').map(encode),
}, 8)
export const concat = (...lists: Arb<Field[]>[]): Arb<Field[]> => fc.tuple(...lists).map((all) => all.flat())
