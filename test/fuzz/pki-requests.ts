// Requests to the PKI endpoints: OCSP (POST and GET), CRL and CA certificates, certificates by serial.

import { CertID, OCSPRequest, Request, TBSRequest, id_pkix_ocsp_nonce } from '@peculiar/asn1-ocsp'
import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import { AlgorithmIdentifier, Extension } from '@peculiar/asn1-x509'
import fc from 'fast-check'
import { garbage, type Payload } from './bodies.ts'
import { ANY_METHOD, endpoint, mostly } from './endpoint.ts'
import type { ByteEdit, FuzzBody, FuzzRequest } from './fuzz-request.ts'
import { contentType } from './headers.ts'
import { encode, fields, query, segment, text, wire, type Arb } from './wire.ts'

const SHA1 = '1.3.14.3.2.26'
export const SHA256 = '2.16.840.1.101.3.4.2.1'
/** DER of one OCSP request naming random certificates (of no issuer PostCert knows, mostly). */
const randomOcspRequest: Arb<Uint8Array> = fc.record({
  ids: fc.array(fc.record({
    algorithm: fc.constantFrom(SHA1, SHA256, '1.2.3.4', '2.16.840.1.101.3.4.2.3'),
    name: fc.uint8Array({ maxLength: 64 }), key: fc.uint8Array({ maxLength: 64 }), serial: fc.uint8Array({ minLength: 1, maxLength: 40 }),
  }), { maxLength: 25 }),
  nonce: fc.option(fc.uint8Array({ maxLength: 80 }), { nil: undefined }),
}).map(({ ids, nonce }) => new Uint8Array(AsnConvert.serialize(new OCSPRequest({
  tbsRequest: new TBSRequest({
    requestList: ids.map((id) => new Request({
      reqCert: new CertID({
        hashAlgorithm: new AlgorithmIdentifier({ algorithm: id.algorithm, parameters: null }),
        issuerNameHash: new OctetString(id.name), issuerKeyHash: new OctetString(id.key), serialNumber: new Uint8Array(id.serial).buffer,
      }),
    })),
    ...(nonce ? { requestExtensions: [new Extension({ extnID: id_pkix_ocsp_nonce, critical: false, extnValue: new OctetString(Buffer.concat([Buffer.from([0x04, nonce.length]), nonce])) })] } : {}),
  }),
}))))
const byteEdits: Arb<ByteEdit[]> = fc.array(fc.record({ at: fc.nat(), op: fc.constantFrom('xor', 'insert', 'delete', 'truncate'), byte: fc.integer({ min: 1, max: 255 }) }), { maxLength: 4 })
const ocspPayload: Arb<Payload> = fc.record({
  contentType: fc.oneof({ arbitrary: fc.constant('application/ocsp-request'), weight: 6 }, { arbitrary: contentType, weight: 1 }),
  body: fc.oneof(
    { arbitrary: byteEdits.map((edits): FuzzBody => ({ ocsp: edits })), weight: 4 },
    { arbitrary: randomOcspRequest.map((bytes): FuzzBody => ({ bytes })), weight: 3 },
    { arbitrary: fc.uint8Array({ maxLength: 600 }).map((bytes): FuzzBody => ({ bytes })), weight: 2 },
  ),
})
export const pki: Arb<FuzzRequest> = fc.oneof(
  endpoint('pki', { method: mostly('POST'), target: fc.constant('/pki/ocsp'), payload: fc.oneof({ arbitrary: ocspPayload, weight: 6 }, { arbitrary: garbage, weight: 1 }) }),
  endpoint('pki', {
    method: mostly('GET'),
    target: fc.oneof(
      fc.constant('/pki/ocsp/{{ocsp_b64}}'),
      randomOcspRequest.map((der) => `/pki/ocsp/${encode(Buffer.from(der).toString('base64'))}`),
      randomOcspRequest.map((der) => `/pki/ocsp/${Buffer.from(der).toString('base64')}`), // slashes and plus signs raw
      fc.array(wire(text), { minLength: 1, maxLength: 3 }).map((parts) => `/pki/ocsp/${parts.join('/')}`),
      fc.constantFrom('/pki/ocsp/', '/pki/ocsp/%', '/pki/ocsp/%E0%A4%A', '/pki/ocsp/MA%3D%3D', `/pki/ocsp/${'A'.repeat(6000)}`),
    ),
  }),
  endpoint('pki', {
    method: fc.constantFrom(...ANY_METHOD, 'GET', 'GET', 'GET'),
    target: fc.tuple(fc.constantFrom('/pki/crl', '/pki/ca.pem', '/pki/issuing.cer', '/pki', '/pki/', '/pki/crl.der'), fields({}, { x: wire(text) }).map(query)).map(([p, q]) => p + q),
  }),
  endpoint('pki', { method: mostly('GET'), target: segment(fc.oneof(fc.constant('{{serial}}'), fc.stringMatching(/^[0-9a-fA-F]{1,70}$/))).map((s) => `/pki/certificates/${s}`) }),
)
