// Requests to the subscriber portal (/account), mostly with the live portal session.

import fc from 'fast-check'
import { form, json, noBody, type Payload } from './bodies.ts'
import { csrfField, endpoint, mostly, session } from './endpoint.ts'
import { certificateActionFields, fileHolder, passkeyHolder } from './enrollment-requests.ts'
import type { FuzzRequest } from './fuzz-request.ts'
import { forgedCookie } from './headers.ts'
import { b64uBytes, fields, literal, query, segment, text, wire, type Arb } from './wire.ts'

const serial = segment(fc.oneof(fc.constant('{{serial}}'), fc.stringMatching(/^[0-9a-fA-F]{1,40}$/)))
const PORTAL_ROUTES: Array<[target: Arb<string>, method: string, payload: Arb<Payload>]> = [
  [fc.constant('/account'), 'GET', noBody],
  [fields({}, { code: b64uBytes(), state: wire(text), iss: literal('{{issuer}}'), error: literal('access_denied', 'login_required'), error_description: wire(text) }, 2).map((l) => `/account/callback${query(l)}`), 'GET', noBody],
  [fc.constant('/account/logout'), 'POST', form(fields({ csrf: csrfField('{{portal_csrf}}') }))],
  [fields({ before: wire(fc.oneof(fc.integer().map(String), text)) }).map((l) => `/account/activity${query(l)}`), 'GET', noBody],
  [fc.tuple(serial, fc.constantFrom('', '/pem')).map(([s, rest]) => `/account/certificates/${s}${rest}`), 'GET', noBody],
  [fc.tuple(serial, fc.constantFrom('revoke', 'suspend', 'resume')).map(([s, action]) => `/account/certificates/${s}/${action}`), 'POST', form(certificateActionFields('{{portal_csrf}}'))],
  [fc.oneof(serial.map((s) => `/account/certificates/${s}/renew`), fc.constant('/account/add')), 'GET', noBody],
  [fc.tuple(fc.oneof(serial.map((s) => `/account/certificates/${s}/renew`), fc.constant('/account/add')), fc.constantFrom('/code', '/verify')).map(([b, step]) => b + step),
    'POST', form(fields({ csrf: csrfField('{{portal_csrf}}'), code: wire(fc.oneof(fc.stringMatching(/^[0-9]{6}$/), text)) }))],
  [fc.tuple(fc.oneof(serial.map((s) => `/account/certificates/${s}/renew`), fc.constant('/account/add')), fc.constantFrom('/challenge', '/passkey/options')).map(([b, step]) => b + step), 'POST', json(fc.constant({}))],
  [fc.oneof(serial.map((s) => `/account/certificates/${s}/renew/file`), fc.constant('/account/add/file')), 'POST', json(fileHolder)],
  [fc.oneof(serial.map((s) => `/account/certificates/${s}/renew/passkey`), fc.constant('/account/add/passkey')), 'POST', json(passkeyHolder)],
  [segment(literal('{{client_id}}', 'postcert-account')).map((id) => `/account/institutions/${id}/revoke`), 'POST', form(fields({ csrf: csrfField('{{portal_csrf}}') }))],
]
const portalSession = fc.oneof(
  { arbitrary: session('{{portal_cookie}}', '{{portal_csrf}}'), weight: 6 },
  { arbitrary: forgedCookie.map((cookie) => ({ cookie })), weight: 1 },
  { arbitrary: fc.constant({}), weight: 1 },
)
export const portal: Arb<FuzzRequest> = fc.oneof(...PORTAL_ROUTES.map(([target, method, payload]) => endpoint('portal', {
  method: mostly(method), target, headers: portalSession,
  // the portal's JSON endpoints take the token in X-CSRF-Token, its forms in the body
  payload,
})))
