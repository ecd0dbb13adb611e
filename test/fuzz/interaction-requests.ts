// Requests to a live interaction: the login page's and the signing page's routes.

import fc from 'fast-check'
import { form, json, noBody, type Payload } from './bodies.ts'
import { csrfField, endpoint, mostly, session } from './endpoint.ts'
import type { FuzzRequest } from './fuzz-request.ts'
import { jwsHeader, jwsOf, seconds } from './jws.ts'
import { webauthnResponse } from './webauthn.ts'
import { b64uBytes, fields, literal, query, segment, text, type Arb } from './wire.ts'

const loginProof = jwsOf(jwsHeader('postcert-login+jwt'), fc.record({
  challenge: fc.oneof(b64uBytes(32), text), aud: fc.oneof(fc.constant('{{issuer}}'), text), interaction: fc.oneof(fc.constant('{{uid}}'), text), iat: seconds,
}, { requiredKeys: [] }))
export const signatureJws = jwsOf(jwsHeader('postcert-signature+jws', { sigT: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), text) }),
  fc.oneof(fc.jsonValue({ maxDepth: 2 }), text))

/** What each interaction route takes, beyond the flow's cookies and CSRF header. */
const INTERACTION_ROUTES: Array<[suffix: string, method: string, payload: (csrf: string) => Arb<Payload>]> = [
  ['', 'GET', () => noBody],
  ['/expiring', 'GET', () => noBody],
  ['/challenge', 'POST', () => json(fc.oneof(fc.constant({}), fc.jsonValue({ maxDepth: 1 })))],
  ['/login/file', 'POST', () => json(fc.record({ proof: loginProof }, { requiredKeys: [] }))],
  ['/login/passkey', 'POST', () => json(fc.record({ assertion: webauthnResponse('get') }, { requiredKeys: [] }))],
  ['/consent', 'POST', (csrf) => form(fields({ csrf: csrfField(csrf), decision: literal('approve', 'deny') }))],
  ['/unmet', 'POST', (csrf) => form(fields({ csrf: csrfField(csrf) }))],
  ['/abort', 'POST', (csrf) => form(fields({ csrf: csrfField(csrf) }))],
  ['/test-login', 'POST', (csrf) => form(fields({ csrf: csrfField(csrf) }))],
  ['/sign/file', 'POST', () => json(fc.record({ jws: signatureJws, cms: fc.oneof(fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b).toString('base64')), text) }, { requiredKeys: [] }))],
  ['/sign/passkey', 'POST', () => json(fc.record({ assertion: webauthnResponse('get'), payload: fc.oneof(text, fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v))) }, { requiredKeys: [] }))],
]

/** Which live interaction a request goes to: the login page's (twice as often) or the signing page's. */
const flowOf = fc.constantFrom(
  { uid: '{{uid}}', cookie: '{{flow_cookie}}', csrf: '{{csrf}}' },
  { uid: '{{uid}}', cookie: '{{flow_cookie}}', csrf: '{{csrf}}' },
  { uid: '{{sign_uid}}', cookie: '{{sign_cookie}}', csrf: '{{sign_csrf}}' },
)
export const interaction: Arb<FuzzRequest> = fc.oneof(...INTERACTION_ROUTES.map(([suffix, method, payload]) => flowOf.chain((flow) => endpoint('interaction', {
  method: mostly(method),
  target: fc.tuple(segment(fc.constant(flow.uid)), fc.oneof({ arbitrary: fc.constant(''), weight: 6 }, { arbitrary: fields({ ui_locales: literal('en', 'ko') }).map(query), weight: 1 }))
    .map(([uid, q]) => `/interaction/${uid}${suffix}${q}`),
  headers: session(flow.cookie, flow.csrf),
  payload: payload(flow.csrf),
}))))
