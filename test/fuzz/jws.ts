// JWS shapes: compact JWSs with plausible headers and claims (client assertions, request
// objects, DPoP proofs), signed by the fixture subscriber now and then.

import fc from 'fast-check'
import { anyJson, utf8 } from './bodies.ts'
import type { OwnJwt } from './fuzz-request.ts'
import { headerText } from './headers.ts'
import { b64u, b64uBytes, text, type Arb } from './wire.ts'

/**
 * A compact JWS, assembled when sent: header and payload are JSON (with placeholders), the
 * signature random or, with `signed`, made by the fixture subscriber's key (so checks past the
 * signature are reached).
 */
export const jwsOf = (header: Arb<Record<string, unknown>>, payload: Arb<unknown>, notJws: Arb<string> = text): Arb<unknown> => fc.oneof(
  { arbitrary: fc.record({ header, payload, signature: b64uBytes(96), signed: fc.boolean() }).map((jws) => ({ $jws: jws })), weight: 6 },
  { arbitrary: fc.tuple(b64uBytes(), b64uBytes(), b64uBytes()).map((parts) => parts.join('.')), weight: 1 },
  { arbitrary: notJws, weight: 1 },
)

const x5c = fc.oneof(
  { arbitrary: fc.constant(['{{cert_b64}}', '{{ca_b64}}']), weight: 4 },
  { arbitrary: fc.array(fc.oneof(b64uBytes(200).map((s) => s.replace(/-/g, '+')), fc.constant('{{ca_b64}}'), text), { maxLength: 4 }), weight: 1 },
  { arbitrary: anyJson, weight: 1 },
)
export const jwsHeader = (typ: string, extra: Record<string, Arb<unknown>> = {}): Arb<Record<string, unknown>> => fc.record({
  alg: fc.oneof({ arbitrary: fc.constant('ES256'), weight: 4 }, { arbitrary: fc.constantFrom('none', 'HS256', 'RS256', 'EdDSA', 'ES384', ''), weight: 1 }, { arbitrary: anyJson, weight: 1 }),
  typ: fc.oneof({ arbitrary: fc.constant(typ), weight: 4 }, { arbitrary: anyJson, weight: 1 }),
  x5c,
  kid: anyJson,
  crit: fc.oneof(fc.constant(['b64']), anyJson),
  b64: fc.boolean(),
  jwk: fc.jsonValue({ maxDepth: 2 }),
  ...extra,
}, { requiredKeys: ['alg'] })
export const seconds = fc.oneof(
  { arbitrary: fc.integer({ min: -600, max: 600 }).map((offset) => ({ $now: offset })), weight: 4 },
  { arbitrary: fc.oneof(fc.integer(), fc.double(), fc.constant(-1), fc.constant(1e300)), weight: 1 },
  { arbitrary: anyJson, weight: 1 },
)

/** A JWS written as a string into a query or form with random parts. */
export const jwtText: Arb<string> = fc.oneof(
  fc.tuple(fc.jsonValue({ maxDepth: 1 }), fc.jsonValue({ maxDepth: 2 }), b64uBytes()).map(([h, p, s]) => `${b64u(utf8(JSON.stringify(h)))}.${b64u(utf8(JSON.stringify(p)))}.${s}`),
  fc.tuple(b64uBytes(), b64uBytes()).map(([a, b]) => `${a}.${b}.`),
  fc.constant('eyJhbGciOiJub25lIn0.e30.'),
)

/** A client's JWT (client assertion, request object): the claims of both, each now and then. */
export const clientJwt = jwsOf(jwsHeader('JWT', { typ: fc.constantFrom('JWT', 'oauth-authz-req+jwt') }), fc.record({
  iss: fc.oneof(fc.constant('{{client_id}}'), anyJson), sub: fc.oneof(fc.constant('{{client_id}}'), anyJson),
  aud: fc.oneof(fc.constantFrom('{{issuer}}', '{{issuer}}/token'), anyJson), iat: seconds, exp: seconds, nbf: seconds, jti: fc.oneof(b64uBytes(16), anyJson),
  client_id: fc.constant('{{client_id}}'), redirect_uri: fc.constant('{{redirect_uri}}'), scope: fc.constantFrom('openid', 'openid profile'),
  response_type: fc.constant('code'), state: b64uBytes(8), nonce: b64uBytes(8), code_challenge: b64uBytes(43), code_challenge_method: fc.constant('S256'),
  authorization_details: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 2 }),
}, { requiredKeys: [] }))

/** A DPoP proof (RFC 9449), signed (now and then) by the key its header names: checks past the signature are reached. */
export const dpopProof = jwsOf(jwsHeader('dpop+jwt', { jwk: fc.oneof({ arbitrary: fc.constant({ $fixture: 'holder_jwk' }), weight: 4 }, { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 1 }) }), fc.record({
  htm: fc.oneof(fc.constantFrom('POST', 'GET'), anyJson),
  htu: fc.oneof(fc.constantFrom('{{issuer}}/token', '{{issuer}}/me', '{{issuer}}/signatures/{{signature_id}}', '{{issuer}}/token?x=1'), anyJson),
  iat: seconds, jti: fc.oneof(b64uBytes(16), anyJson), ath: fc.oneof(b64uBytes(32), anyJson), nonce: anyJson,
}, { requiredKeys: ['htm', 'htu', 'iat', 'jti'] }), headerText) // a header: only what fetch can send

/** The request's own JWT, or a string that only looks like one, or anything. */
export const ownJwt = (name: OwnJwt): Arb<string> => fc.oneof({ arbitrary: fc.constant(`{{${name}}}`), weight: 3 }, { arbitrary: jwtText, weight: 1 }, { arbitrary: headerText, weight: 1 })
