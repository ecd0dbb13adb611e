// Requests to the signature endpoints: verifying evidence, fetching a signature, keys, sectors.

import fc from 'fast-check'
import { anyJson, json, type Payload } from './bodies.ts'
import { ANY_METHOD, endpoint, mostly } from './endpoint.ts'
import type { FuzzRequest, JsonEdit } from './fuzz-request.ts'
import { headerText } from './headers.ts'
import { signatureJws } from './interaction-requests.ts'
import { dpopProof, jwtText, ownJwt } from './jws.ts'
import { signatureDetail } from './oidc-parameters.ts'
import { webauthnResponse } from './webauthn.ts'
import { b64uBytes, literal, segment, text, type Arb } from './wire.ts'

const jsonEdits: Arb<JsonEdit[]> = fc.array(fc.record({ pick: fc.nat(), op: fc.constantFrom('replace', 'delete', 'flip', 'wrap'), value: fc.jsonValue({ maxDepth: 2 }) }), { maxLength: 3 })
const evidenceShaped = fc.record({
  signature_id: fc.oneof(fc.constant('{{signature_id}}'), text),
  payload: fc.oneof(text, fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v))),
  signature: fc.oneof(fc.record({ jws: signatureJws, cms: fc.oneof(b64uBytes(300), text), webauthn: webauthnResponse('get') }, { requiredKeys: [] }), anyJson),
  receipt: fc.oneof(jwtText, text),
  request: fc.oneof(signatureDetail, anyJson),
  documents: anyJson, transaction: anyJson, type: anyJson, payload_sha256: fc.oneof(b64uBytes(32), anyJson), signed_at: anyJson, holder: anyJson,
}, { requiredKeys: [] })
export const signatures: Arb<FuzzRequest> = fc.oneof(
  endpoint('signatures', {
    method: mostly('POST'), target: fc.constant('/signatures/verify'),
    payload: fc.oneof(
      { arbitrary: jsonEdits.map((edits): Payload => ({ contentType: 'application/json', body: { evidence: edits } })), weight: 3 },
      { arbitrary: json(evidenceShaped), weight: 3 },
    ),
  }),
  endpoint('signatures', {
    method: mostly('GET'),
    target: segment(fc.oneof(fc.constant('{{signature_id}}'), fc.stringMatching(/^sig_[A-Za-z0-9_-]{22}$/), fc.constant('keys'))).map((id) => `/signatures/${id}`),
    headers: fc.record({
      authorization: fc.oneof(fc.constantFrom('Bearer {{access_token}}', 'DPoP {{access_token}}', 'Bearer {{refresh_token}}', 'bearer {{access_token}}', 'Bearer', 'DPoP'),
        headerText.map((t) => `Bearer ${t}`), headerText),
      dpop: ownJwt('dpop_jwt'),
    }, { requiredKeys: [] }),
    jwts: fc.record({ dpop_jwt: dpopProof }),
  }),
  endpoint('signatures', { method: fc.constantFrom(...ANY_METHOD, 'GET', 'GET'), target: fc.constantFrom('/signatures/keys', '/signatures', '/signatures/', '/signatures/verify') }),
  endpoint('signatures', { method: mostly('GET'), target: segment(literal('{{client_id}}', 'postcert-account')).map((id) => `/sectors/${id}`) }),
)
