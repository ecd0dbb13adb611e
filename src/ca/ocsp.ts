import { createHash } from 'node:crypto'
import {
  BasicOCSPResponse, CertID, CertStatus, KeyHash, OCSPRequest, OCSPResponse, OCSPResponseStatus, Request, ResponderID,
  ResponseData, RevokedInfo, SingleResponse, TBSRequest, id_pkix_ocsp_nonce,
} from '@peculiar/asn1-ocsp'
import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import { AlgorithmIdentifier, Certificate, CRLReason, Extension } from '@peculiar/asn1-x509'
import type { Database } from '../db/database.ts'
import type { Clock } from '../util/clock.ts'
import { OCSP_MAX_REQUESTS } from './constants.ts'
import type { CaHierarchy, IssuingCa } from './hierarchy.ts'
import { reasonCode } from './reasons.ts'
import { canonicalSerial } from './x509.ts'

const SHA256 = '2.16.840.1.101.3.4.2.1'
const HASHES: Record<string, string> = { '1.3.14.3.2.26': 'sha1', [SHA256]: 'sha256' }
const ECDSA_WITH_SHA256_ALGORITHM = Buffer.from(AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: '1.2.840.10045.4.3.2' })))
/** OBJECT IDENTIFIER id-pkix-ocsp-basic (1.3.6.1.5.5.7.48.1.1), DER. */
const ID_PKIX_OCSP_BASIC = Buffer.from('06092b0601050507300101', 'hex')

/** Issuer name and key hashes of our issuing CA, per hash algorithm, to recognise CertIDs. */
interface IssuerHashes {
  ca: IssuingCa
  byAlgorithm: Map<string, { name: Buffer; key: Buffer }>
  /** SHA-1 of the issuing CA's public key: the responder id (RFC 6960 KeyHash). */
  responderKeyHash: Buffer
}

/**
 * RFC 6960 OCSP responder for the issuing CA, signing with the CA key itself. Each answer is
 * built from the database at request time, so a revocation shows in the next response.
 * A request that cannot be parsed gets a malformedRequest response, never an exception.
 */
export class OcspResponder {
  readonly #db: Database
  readonly #hierarchy: CaHierarchy
  readonly #clock: Clock
  #issuer: IssuerHashes | undefined

  constructor(db: Database, hierarchy: CaHierarchy, clock: Clock) {
    this.#db = db
    this.#hierarchy = hierarchy
    this.#clock = clock
  }

  async respond(requestDer: Uint8Array): Promise<Buffer> {
    let request: OCSPRequest
    try {
      request = AsnConvert.parse(requestDer, OCSPRequest)
    } catch {
      return status(OCSPResponseStatus.malformedRequest)
    }
    const list = request.tbsRequest.requestList ?? []
    if (list.length === 0 || list.length > OCSP_MAX_REQUESTS) return status(OCSPResponseStatus.malformedRequest)

    const issuer = await this.#issuerHashes()
    const now = seconds(this.#clock.now())
    const responses: SingleResponse[] = []
    for (const { reqCert } of list) {
      responses.push(new SingleResponse({ certID: reqCert, certStatus: await this.#statusOf(reqCert, issuer), thisUpdate: now }))
    }
    const nonce = request.tbsRequest.requestExtensions?.find((e) => e.extnID === id_pkix_ocsp_nonce)
    const data = new ResponseData({
      responderID: new ResponderID({ byKey: new KeyHash(issuer.responderKeyHash) }),
      producedAt: now,
      responses,
      ...(nonce ? { responseExtensions: [new Extension({ extnID: id_pkix_ocsp_nonce, critical: false, extnValue: nonce.extnValue })] } : {}),
    })
    const tbs = Buffer.from(AsnConvert.serialize(data))
    const signature = await issuer.ca.signer.sign(tbs)
    // The outer layers are assembled around the already-encoded tbsResponseData: re-encoding it
    // through the ASN.1 schema twice more was most of the cost of a response. No certs are
    // attached: the issuing CA signs itself, and clients have its certificate (RFC 6960 4.2.2.2).
    const basic = der(0x30, tbs, ECDSA_WITH_SHA256_ALGORITHM, der(0x03, Buffer.from([0]), signature))
    return der(0x30, der(0x0a, Buffer.from([OCSPResponseStatus.successful])),
      der(0xa0, der(0x30, ID_PKIX_OCSP_BASIC, der(0x04, basic))))
  }

  /**
   * The response anyone asking now would get for one certificate (a SHA-256 CertID): a signature
   * keeps it as evidence of the certificate's status at signing time.
   */
  async respondForSerial(serial: string): Promise<Buffer> {
    const { name, key } = (await this.#issuerHashes()).byAlgorithm.get(SHA256)!
    const hex = canonicalSerial(serial)
    // INTEGER content: two's complement, so a leading 1 bit needs a zero byte.
    const bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex')
    const serialNumber = bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes
    const reqCert = new CertID({
      hashAlgorithm: new AlgorithmIdentifier({ algorithm: SHA256, parameters: null }),
      issuerNameHash: new OctetString(name), issuerKeyHash: new OctetString(key),
      serialNumber: new Uint8Array(serialNumber).buffer,
    })
    return await this.respond(new Uint8Array(AsnConvert.serialize(new OCSPRequest({ tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert })] }) }))))
  }

  async #statusOf(certId: CertID, issuer: IssuerHashes): Promise<CertStatus> {
    const hashes = issuer.byAlgorithm.get(certId.hashAlgorithm.algorithm)
    const ours = hashes
      && Buffer.from(certId.issuerNameHash.buffer).equals(hashes.name)
      && Buffer.from(certId.issuerKeyHash.buffer).equals(hashes.key)
    if (!ours) return new CertStatus({ unknown: null })
    const serial = canonicalSerial(Buffer.from(certId.serialNumber).toString('hex'))
    const row = await this.#db.selectFrom('certificate')
      .select(['status', 'revoked_at', 'revocation_reason'])
      .where('serial', '=', serial).where('issuer_id', '=', issuer.ca.id)
      .executeTakeFirst() // primary key
    if (!row) return new CertStatus({ unknown: null })
    if (row.status === 'good') return new CertStatus({ good: null })
    return new CertStatus({
      revoked: new RevokedInfo({
        revocationTime: seconds(row.revoked_at!),
        revocationReason: new CRLReason(row.status === 'hold' ? 6 : reasonCode(row.revocation_reason) as number),
      }),
    })
  }

  async #issuerHashes(): Promise<IssuerHashes> {
    const ca = await this.#hierarchy.issuing()
    if (this.#issuer?.ca === ca) return this.#issuer
    const certificate = AsnConvert.parse(ca.certificate.rawData, Certificate)
    const name = Buffer.from(AsnConvert.serialize(certificate.tbsCertificate.subject))
    const key = Buffer.from(certificate.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey)
    const byAlgorithm = new Map(Object.entries(HASHES).map(([oid, alg]) => [oid, {
      name: createHash(alg).update(name).digest(),
      key: createHash(alg).update(key).digest(),
    }]))
    this.#issuer = { ca, byAlgorithm, responderKeyHash: createHash('sha1').update(key).digest() }
    return this.#issuer
  }
}

/** A DER TLV: tag, definite length, then the concatenated contents. */
function der(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents)
  const n = body.length
  const length = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : n < 0x10000 ? Buffer.from([0x82, n >> 8, n & 0xff]) : Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff])
  return Buffer.concat([Buffer.from([tag]), length, body])
}

function status(code: OCSPResponseStatus): Buffer {
  return Buffer.from(AsnConvert.serialize(new OCSPResponse({ responseStatus: code })))
}

/** OCSP times in whole seconds: GeneralizedTime without fractions is what every client parses. */
function seconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000)
}

/** The status a one-certificate OCSP response of ours gives (signatures check what they keep). */
export function singleStatus(responseDer: Uint8Array): 'good' | 'revoked' | 'unknown' {
  const response = AsnConvert.parse(responseDer, OCSPResponse)
  if (response.responseStatus !== OCSPResponseStatus.successful || !response.responseBytes) return 'unknown'
  const basic = AsnConvert.parse(response.responseBytes.response.buffer, BasicOCSPResponse)
  const status = basic.tbsResponseData.responses[0]?.certStatus
  return status?.good !== undefined ? 'good' : status?.revoked ? 'revoked' : 'unknown'
}
