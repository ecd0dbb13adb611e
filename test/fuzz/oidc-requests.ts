// OpenID Connect requests: authorization, token, introspection, revocation, pushed requests,
// userinfo, dynamic registration, end session, and everything else under the issuer.

import fc from 'fast-check'
import { anyJson, form, json, noBody } from './bodies.ts'
import { ANY_METHOD, endpoint, mostly, session } from './endpoint.ts'
import type { FuzzRequest } from './fuzz-request.ts'
import { headerText } from './headers.ts'
import { clientJwt, dpopProof, jwtText, ownJwt } from './jws.ts'
import {
  authorizationParameters, clientAuthFields, clientAuthHeaders, clientId, clientJwts, concat, redirectUri, scope, SCOPES, signatureDetail,
} from './oidc-parameters.ts'
import { b64uBytes, encode, fields, literal, query, segment, text, wire, type Arb } from './wire.ts'

const tokenRequest = endpoint('oidc', {
  method: mostly('POST'),
  target: fc.constant('/token'),
  headers: clientAuthHeaders,
  jwts: clientJwts,
  payload: form(concat(fields({
    grant_type: fc.oneof({ arbitrary: literal('authorization_code', 'refresh_token', 'client_credentials'), weight: 4 }, { arbitrary: literal(encode('urn:ietf:params:oauth:grant-type:device_code'),
      encode('urn:ietf:params:oauth:grant-type:token-exchange'), encode('urn:openid:params:grant-type:ciba'), 'password', 'implicit'), weight: 1 }),
  }, {
    code: fc.oneof(b64uBytes(), wire(text)),
    redirect_uri: redirectUri,
    code_verifier: fc.oneof(b64uBytes(48), wire(text)),
    refresh_token: fc.oneof(literal('{{refresh_token}}'), b64uBytes()),
    scope,
    resource: literal('{{issuer}}/signatures', encode('https://evil.example/')),
    authorization_details: fc.array(signatureDetail, { maxLength: 1 }).map((d) => encode(JSON.stringify(d))),
  }, 2), clientAuthFields)),
})

const tokenFields = concat(fields(
  { token: fc.oneof(literal('{{access_token}}', '{{refresh_token}}', '{{id_token}}'), b64uBytes()) },
  { token_type_hint: literal('access_token', 'refresh_token', 'id_token', 'bogus') },
), clientAuthFields)
const introspection = endpoint('oidc', { method: mostly('POST'), target: fc.constant('/token/introspection'), headers: clientAuthHeaders, jwts: clientJwts, payload: form(tokenFields) })
const revocation = endpoint('oidc', { method: mostly('POST'), target: fc.constant('/token/revocation'), headers: clientAuthHeaders, jwts: clientJwts, payload: form(tokenFields) })

const requestObject = fc.record({ request_jwt: clientJwt })
const authorizationGet = endpoint('oidc', { method: mostly('GET'), target: authorizationParameters.map((list) => `/auth${query(list)}`), jwts: requestObject })
const authorizationPost = endpoint('oidc', { method: fc.constant('POST'), target: fc.constant('/auth'), payload: form(authorizationParameters), jwts: requestObject })
const pushed = endpoint('oidc', {
  method: mostly('POST'), target: fc.constant('/request'), headers: clientAuthHeaders,
  jwts: fc.record({ dpop_jwt: dpopProof, assertion_jwt: clientJwt, request_jwt: clientJwt }),
  payload: form(concat(authorizationParameters, clientAuthFields)),
})
const resume = endpoint('oidc', {
  method: mostly('GET'),
  target: fc.tuple(segment(literal('{{uid}}', '{{sign_uid}}')), fc.oneof({ arbitrary: fc.constant(''), weight: 4 }, { arbitrary: wire(text).map((t) => `?${t}`), weight: 1 }))
    .map(([uid, q]) => `/auth/${uid}${q}`),
  headers: session('{{flow_cookie}}', undefined),
})
const userinfo = endpoint('oidc', {
  method: fc.constantFrom('GET', 'POST', 'GET', 'PUT'),
  target: fc.constant('/me'),
  headers: fc.record({
    authorization: fc.oneof(fc.constantFrom('Bearer {{access_token}}', 'DPoP {{access_token}}', 'Bearer', 'Bearer {{id_token}}', 'Basic {{basic}}'), headerText.map((t) => `Bearer ${t}`), headerText),
    dpop: ownJwt('dpop_jwt'),
  }, { requiredKeys: [] }),
  jwts: fc.record({ dpop_jwt: dpopProof }),
  payload: fc.oneof(noBody, form(fields({ access_token: literal('{{access_token}}') }))),
})

const anyUrl = fc.oneof(fc.constantFrom('https://fuzz.example.kr/cb', 'http://127.0.0.1:9/cb', 'https://127.0.0.1:9/x.json', 'javascript:alert(1)',
  'data:,x', 'https://x/#frag', 'custom.scheme:/cb', 'https://[::1]:9/x', 'http://localhost/cb', ''), fc.webUrl(), text)
/** Dynamic registration metadata. URLs PostCert might fetch point at 127.0.0.1:9 (refused at once): no DNS, no waiting. */
const clientMetadata = fc.record({
  redirect_uris: fc.oneof({ arbitrary: fc.constant(['https://fuzz.example.kr/cb']), weight: 3 }, { arbitrary: fc.array(anyUrl, { maxLength: 3 }), weight: 1 }, { arbitrary: anyJson, weight: 1 }),
  post_logout_redirect_uris: fc.array(anyUrl, { maxLength: 2 }),
  grant_types: fc.subarray(['authorization_code', 'refresh_token', 'client_credentials', 'implicit', 'password']),
  response_types: fc.subarray(['code', 'id_token', 'code id_token', 'token']),
  token_endpoint_auth_method: fc.oneof(fc.constantFrom('client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none', 'tls_client_auth', 'client_secret_jwt'), text),
  client_name: text,
  logo_uri: anyUrl,
  jwks: fc.oneof(fc.record({ keys: fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 2 }) }), anyJson),
  jwks_uri: fc.constantFrom('https://127.0.0.1:9/jwks', 'http://127.0.0.1:9/jwks', 'file:///etc/passwd'),
  sector_identifier_uri: fc.constantFrom('https://127.0.0.1:9/sector.json', 'http://127.0.0.1:9/s'),
  subject_type: fc.oneof(fc.constantFrom('pairwise', 'public'), text),
  id_token_signed_response_alg: fc.oneof(fc.constantFrom('ES256', 'RS256', 'PS256', 'none', 'HS256'), text),
  userinfo_signed_response_alg: fc.constantFrom('ES256', 'none'),
  backchannel_logout_uri: anyUrl,
  scope: fc.subarray(SCOPES).map((s) => s.join(' ')),
  dpop_bound_access_tokens: anyJson,
  postcert_fapi_profile: anyJson,
  default_max_age: fc.oneof(fc.integer(), anyJson),
  client_id: text,
  client_secret: text,
}, { requiredKeys: [] })
const registration = endpoint('oidc', {
  method: mostly('POST'), target: fc.constant('/reg'),
  headers: fc.record({ authorization: fc.oneof({ arbitrary: fc.constant('Bearer {{iat}}'), weight: 4 }, { arbitrary: headerText.map((t) => `Bearer ${t}`), weight: 1 }, { arbitrary: fc.constant(undefined), weight: 1 }) }),
  payload: json(clientMetadata),
})
const registrationManagement = endpoint('oidc', {
  method: fc.constantFrom('GET', 'PUT', 'DELETE', 'POST'),
  target: segment(literal('{{client_id}}', 'postcert-account')).map((id) => `/reg/${id}`),
  headers: fc.record({ authorization: fc.oneof(fc.constant('Bearer {{iat}}'), fc.constant('Bearer {{access_token}}'), headerText.map((t) => `Bearer ${t}`)) }, { requiredKeys: [] }),
  payload: json(clientMetadata),
})
const endSessionFields = fields({}, {
  id_token_hint: fc.oneof(literal('{{id_token}}'), jwtText.map(encode)),
  post_logout_redirect_uri: redirectUri,
  state: wire(text),
  client_id: clientId,
  ui_locales: literal('ko', 'en'),
  logout_hint: wire(text),
  xsrf: wire(text),
  logout: literal('yes', 'no'),
})
const endSession = fc.oneof(
  endpoint('oidc', { method: mostly('GET'), target: endSessionFields.map((list) => `/session/end${query(list)}`), headers: session('{{portal_cookie}}', undefined) }),
  endpoint('oidc', { method: fc.constant('POST'), target: fc.constantFrom('/session/end', '/session/end/confirm'), headers: session('{{portal_cookie}}', undefined), payload: form(endSessionFields) }),
  endpoint('oidc', { method: mostly('GET'), target: fc.constant('/session/end/success') }),
)
/** Discovery, keys, operations endpoints, assets, and paths that exist nowhere. */
const elsewhere = endpoint('oidc', {
  method: fc.constantFrom(...ANY_METHOD, 'GET', 'GET'),
  target: fc.tuple(
    fc.oneof(
      fc.constantFrom('/.well-known/openid-configuration', '/.well-known/oauth-authorization-server', '/jwks', '/healthz', '/readyz', '/metrics',
        '/assets/postcert.css', '/assets/postcert-login-button.svg', '/assets/nothing.js', '/', '/favicon.ico', '/robots.txt', '/.well-known/%2e%2e/jwks',
        '/..%2f..%2fetc%2fpasswd', '//evil.example/x', '/auth/', '/token/', '/reg', '/device', '/backchannel', '/register', '/%', '/%E0%A4%A'),
      fc.array(segment(fc.constantFrom('auth', 'token', 'interaction', 'account', 'enroll', 'pki', 'signatures', 'sectors', 'reg', 'me')), { minLength: 1, maxLength: 4 }).map((s) => `/${s.join('/')}`),
    ),
    fields({}, { x: wire(text) }).map(query),
  ).map(([p, q]) => p + q),
})

export const oidc: Arb<FuzzRequest> = fc.oneof(authorizationGet, authorizationPost, tokenRequest, introspection, revocation, pushed, resume,
  userinfo, registration, registrationManagement, endSession, elsewhere)
