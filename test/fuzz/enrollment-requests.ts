// Requests to an enrollment's steps, from the start page to the holder step, and certificate actions.

import fc from 'fast-check'
import { form, json, noBody, type Payload } from './bodies.ts'
import { csrfField, endpoint, mostly, session } from './endpoint.ts'
import type { FuzzRequest } from './fuzz-request.ts'
import { webauthnResponse } from './webauthn.ts'
import { b64uBytes, fields, literal, query, segment, sometimes, text, wire, type Arb } from './wire.ts'

const phone = fc.oneof(
  fc.tuple(fc.constantFrom('010', '011', '016', '070', '02'), fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 9999 }))
    .map(([a, b, c]) => `${a}-${String(b).padStart(4, '0')}-${String(c).padStart(4, '0')}`),
  fc.stringMatching(/^\+?[0-9 ()-]{0,20}$/),
)
const date = fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10)), literal('1990-02-30', '0000-00-00', '99999-01-01', '1990-1-1'))
const reasons = literal('keyCompromise', 'cessationOfOperation', 'superseded', 'certificateHold', 'removeFromCRL', '')
export const certificateActionFields = (csrf: string) => fields({ csrf: csrfField(csrf), reason: reasons, confirm: literal('yes', 'no') })
export const fileHolder = fc.record({ spki: fc.oneof(fc.constant('{{spki}}'), b64uBytes(100), text), signature: fc.oneof(b64uBytes(72), text), challenge: fc.oneof(b64uBytes(40), text) }, { requiredKeys: [] })
export const passkeyHolder = fc.record({ registration: webauthnResponse('create'), assertion: webauthnResponse('get'), challenge: fc.oneof(b64uBytes(40), text) }, { requiredKeys: [] })

/** Which enrollment a request belongs to: only its start page seen, at the phone step, or at the holder step (most often: the most to reach). */
const enrollmentOf = fc.constantFrom(
  { cookie: '{{enroll_start_cookie}}', csrf: '{{enroll_start_csrf}}' },
  { cookie: '{{enroll_cookie}}', csrf: '{{enroll_csrf}}' },
  { cookie: '{{holder_enroll_cookie}}', csrf: '{{holder_enroll_csrf}}' },
  { cookie: '{{holder_enroll_cookie}}', csrf: '{{holder_enroll_csrf}}' },
)
const ENROLLMENT_ROUTES: Array<[target: Arb<string>, method: string, payload: (csrf: string) => Arb<Payload>]> = [
  [fc.constantFrom('/enroll', '/enroll/phone', '/enroll/identity', '/enroll/holder', '/enroll/done', '/sandbox/sms'), 'GET', () => noBody],
  [fc.constant('/enroll/start'), 'POST', (csrf) => form(fields({ csrf: csrfField(csrf) }))],
  [fc.constant('/enroll/phone/send'), 'POST', (csrf) => form(fields({ csrf: csrfField(csrf), phone: wire(phone) }))],
  [fc.constant('/enroll/phone/verify'), 'POST', (csrf) => form(fields({ csrf: csrfField(csrf), code: wire(fc.oneof(fc.stringMatching(/^[0-9]{6}$/), text)) }))],
  [fc.constant('/enroll/identity'), 'POST', (csrf) => form(fields({
    csrf: csrfField(csrf), document_type: literal('resident_card', 'driver_licence', 'passport', 'alien_card'), name: wire(fc.oneof(fc.constantFrom('김우정', '이소포'), text)),
    birthdate: wire(date), number: wire(fc.oneof(fc.stringMatching(/^[0-9]{6}-[0-9]{7}$/), fc.stringMatching(/^[0-9]{2}-[0-9]{2}-[0-9]{6}-[0-9]{2}$/), text)), issue_date: wire(date),
  }))],
  [fc.constantFrom('/enroll/holder/challenge', '/enroll/holder/passkey/options'), 'POST', () => json(fc.constant({}))],
  [fc.constant('/enroll/holder/file'), 'POST', () => json(fileHolder)],
  [fc.constant('/enroll/holder/passkey'), 'POST', () => json(passkeyHolder)],
  [fc.tuple(segment(fc.oneof(fc.constant('{{serial}}'), fc.stringMatching(/^[0-9a-f]{1,40}$/))), fc.constantFrom('revoke', 'suspend', 'resume', 'renew'))
    .map(([serial, action]) => `/enroll/certificates/${serial}/${action}`), 'POST', (csrf) => form(certificateActionFields(csrf))],
]
export const enrollment: Arb<FuzzRequest> = fc.oneof(...ENROLLMENT_ROUTES.map(([target, method, payload]) => enrollmentOf.chain((e) => endpoint('enrollment', {
  method: mostly(method),
  target: fc.tuple(target, fc.oneof({ arbitrary: fc.constant(''), weight: 6 }, { arbitrary: fields({}, { sent: literal('1'), lang: literal('en') }, 2).map(query), weight: 1 })).map(([t, q]) => t + q),
  // the steps answer pages or JSON, as asked
  headers: fc.tuple(session(e.cookie, e.csrf), sometimes(fc.constantFrom('application/json', 'text/html'), 3))
    .map(([h, accept]) => (accept ? { ...h, accept } : h)),
  payload: payload(e.csrf),
}))))
