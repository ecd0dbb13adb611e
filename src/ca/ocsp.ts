import { createHash } from 'node:crypto'
import {
  BasicOCSPResponse, CertID, CertStatus, KeyHash, OCSPRequest, OCSPResponse, OCSPResponseStatus, ResponderID,
  ResponseData, RevokedInfo, SingleResponse, id_pkix_ocsp_nonce,
} from '@peculiar/asn1-ocsp'
import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import { AlgorithmIdentifier, Certificate, CRLReason, Extension } from '@peculiar/asn1-x509'
import type { Database } from '../db/database.ts'
import type { Clock } from '../util/clock.ts'
import { OCSP_MAX_REQUESTS, OCSP_PRESIGNED_MAX, OCSP_VERSION_CHECK_MS } from './constants.ts'
import type { CaHierarchy, IssuingCa } from './hierarchy.ts'
import { BoundedMap } from '../util/bounded-map.ts'
import { reasonCode } from './reasons.ts'
import { StatusSource, statusVersion, versionText } from './status-version.ts'
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

/** An OCSP response, and for a pre-signed one the window it holds for (its HTTP caching). */
export interface OcspAnswer {
  der: Buffer
  presigned?: { thisUpdate: Date; nextUpdate: Date; secondsLeft: number; etag: string }
}

interface Presigned {
  der: Buffer
  thisUpdate: Date
  nextUpdate: Date
  /** The response's SHA-256, as its HTTP entity tag. */
  etag: string
  /** Signed again from here on: a client always gets at least half the validity. */
  refreshAt: number
}

/**
 * RFC 6960 OCSP responder for the issuing CA, signing with the CA key itself. A request that
 * cannot be parsed gets a malformedRequest response, never an exception.
 *
 * A request for one certificate without a nonce (the RFC 5019 profile that high-volume clients
 * use) gets a pre-signed response: signed once, with nextUpdate `validitySeconds` later, kept in
 * memory and signed again after half of that, or at once when a status changes. This instance's
 * changes drop them as they commit (`statusChanged`); other instances' (and the CLI's) are seen
 * through certificate_status_version, read at most once per OCSP_VERSION_CHECK_MS, which bounds
 * how stale a response here can be. A request with a nonce, or for several certificates, is
 * answered live from the database, with its nonce. Only certificates we issued are kept: an
 * unknown serial is looked up every time (it may be issued later).
 */
export class OcspResponder {
  readonly #db: Database
  readonly #hierarchy: CaHierarchy
  readonly #clock: Clock
  readonly #validityMs: number
  #issuer: IssuerHashes | undefined
  readonly #presigned = new BoundedMap<string, Presigned>(OCSP_PRESIGNED_MAX)
  /** The pre-signed answer's key by the request's digest: a request seen before is not parsed again. */
  readonly #byRequest = new BoundedMap<string, string>(OCSP_PRESIGNED_MAX)
  /** Moves whenever the pre-signed responses are dropped: one built across a drop is not kept. */
  #generation = 0
  #version: string | undefined
  #versionCheckedAt = -Infinity
  #versionCheck: Promise<void> | undefined

  readonly #source: StatusSource

  /** `source`: where statuses are read (a replica that has caught up: status-version.ts); the database by default. */
  constructor(db: Database, hierarchy: CaHierarchy, clock: Clock, options: { validitySeconds: number; source?: StatusSource }) {
    this.#db = db
    this.#source = options.source ?? new StatusSource(db)
    this.#hierarchy = hierarchy
    this.#clock = clock
    this.#validityMs = options.validitySeconds * 1000
  }

  async respond(requestDer: Uint8Array): Promise<Buffer> {
    return (await this.answer(requestDer)).der
  }

  async answer(requestDer: Uint8Array): Promise<OcspAnswer> {
    // By digest: however many distinct requests a script sends, each costs the same few bytes.
    const requestKey = createHash('sha256').update(requestDer).digest('base64url')
    const seen = this.#byRequest.get(requestKey)
    if (seen) {
      const answer = this.#kept(seen)
      if (answer) return answer
    }
    let request: OCSPRequest
    try {
      request = AsnConvert.parse(requestDer, OCSPRequest)
    } catch {
      return { der: status(OCSPResponseStatus.malformedRequest) }
    }
    const list = request.tbsRequest.requestList ?? []
    if (list.length === 0 || list.length > OCSP_MAX_REQUESTS) return { der: status(OCSPResponseStatus.malformedRequest) }

    const issuer = await this.#issuerHashes()
    const nonce = request.tbsRequest.requestExtensions?.find((e) => e.extnID === id_pkix_ocsp_nonce)
    if (list.length === 1 && !nonce) {
      const key = presignedKey(list[0]!.reqCert, issuer)
      if (key) return await this.#presignedAnswer(key, list[0]!.reqCert, issuer, requestKey)
    }
    return { der: await this.#live(issuer, list.map((r) => r.reqCert), nonce) }
  }

  /**
   * The response anyone asking now would get for one certificate (a SHA-256 CertID), signed now
   * (never a pre-signed one): a signature keeps it as evidence of the certificate's status at
   * signing time.
   */
  async respondForSerial(serial: string): Promise<Buffer> {
    const issuer = await this.#issuerHashes()
    const { name, key } = issuer.byAlgorithm.get(SHA256)!
    const hex = canonicalSerial(serial)
    // INTEGER content: two's complement, so a leading 1 bit needs a zero byte.
    const bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex')
    const serialNumber = bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes
    const certID = new CertID({
      hashAlgorithm: new AlgorithmIdentifier({ algorithm: SHA256, parameters: null }),
      issuerNameHash: new OctetString(name), issuerKeyHash: new OctetString(key),
      serialNumber: new Uint8Array(serialNumber).buffer,
    })
    return await this.#live(issuer, [certID])
  }

  /** A status changed on this instance (committed): no pre-signed response is served again. */
  statusChanged(): void {
    // The next status read learns the new version first: a replica that has not replayed it is passed over.
    this.#versionCheckedAt = -Infinity
    this.#generation++
    this.#presigned.clear()
    this.#byRequest.clear()
  }

  /** The certificates' statuses now, signed now, with the request's nonce if any. */
  async #live(issuer: IssuerHashes, certIDs: CertID[], nonce?: Extension): Promise<Buffer> {
    // With a replica, the version it must have replayed (read from the database at most a second ago).
    if (this.#source.replicated) await this.#checkVersion()
    const now = seconds(this.#clock.now())
    const responses: SingleResponse[] = []
    for (const certID of certIDs) responses.push(new SingleResponse({ certID, certStatus: await this.#statusOf(certID, issuer), thisUpdate: now }))
    return await sign(issuer, now, responses, nonce)
  }

  /** Whether the status version is to be read again before a pre-signed answer is served. */
  #versionDue(): boolean {
    return performance.now() - this.#versionCheckedAt >= OCSP_VERSION_CHECK_MS
  }

  /** The pre-signed answer kept under `key`, if it is still to be served and no status version check is due. */
  #kept(key: string): OcspAnswer | undefined {
    if (this.#versionDue()) return undefined
    const kept = this.#presigned.get(key)
    const now = this.#clock.now().getTime()
    if (!kept || now >= kept.refreshAt || now < kept.thisUpdate.getTime()) return undefined
    return answerOf(kept, now)
  }

  async #presignedAnswer(key: string, certID: CertID, issuer: IssuerHashes, request: string): Promise<OcspAnswer> {
    await this.#checkVersion()
    const kept = this.#kept(key)
    if (kept) {
      this.#byRequest.set(request, key)
      return kept
    }
    const now = this.#clock.now().getTime()
    const generation = this.#generation
    const certStatus = await this.#statusOf(certID, issuer)
    const thisUpdate = seconds(new Date(now))
    const nextUpdate = new Date(thisUpdate.getTime() + this.#validityMs)
    const der = await sign(issuer, thisUpdate, [new SingleResponse({ certID, certStatus, thisUpdate, nextUpdate })])
    const signed = { der, thisUpdate, nextUpdate, etag: createHash('sha256').update(der).digest('base64url'), refreshAt: thisUpdate.getTime() + this.#validityMs / 2 }
    // Kept only if no status change was seen while it was built, and only for our certificates.
    if (certStatus.unknown === undefined && generation === this.#generation) {
      this.#presigned.delete(key) // the renewed answer goes last: the oldest are dropped first
      this.#presigned.set(key, signed)
      this.#byRequest.set(request, key)
    }
    return answerOf(signed, now)
  }

  /**
   * Drops the pre-signed responses when another process changed a status: reads the version at
   * most once per OCSP_VERSION_CHECK_MS (one read at a time; the requests meanwhile wait for it).
   * The time counted is the read's start, so a change committed after it is seen by the next.
   */
  async #checkVersion(): Promise<void> {
    if (!this.#versionDue()) return
    this.#versionCheck ??= (async () => {
      const started = performance.now()
      const generation = this.#generation
      try {
        const version = await statusVersion(this.#db)
        // A change committed here while reading may be newer than what was read: read again next time.
        const current = generation === this.#generation
        if (version !== this.#version) {
          this.#version = version
          this.statusChanged()
        }
        if (current) this.#versionCheckedAt = started
      } finally {
        this.#versionCheck = undefined
      }
    })()
    await this.#versionCheck
  }

  async #statusOf(certId: CertID, issuer: IssuerHashes): Promise<CertStatus> {
    if (!isOurs(certId, issuer)) return new CertStatus({ unknown: null })
    const serial = canonicalSerial(Buffer.from(certId.serialNumber).toString('hex'))
    // With the status version of the same snapshot (a replica's answer counts only if it has
    // caught up); a certificate the replica does not have yet (just issued) is looked for in the database too.
    const row = await this.#source.read(this.#version, async (db) => {
      const found = await db.selectFrom('certificate_status_version as v')
        .leftJoin('certificate as c', (join) => join.on('c.serial', '=', serial).on('c.issuer_id', '=', issuer.ca.id))
        .select(['v.version', 'c.status', 'c.revoked_at', 'c.revocation_reason'])
        .where('v.id', '=', 1)
        .executeTakeFirst() // both primary keys
      return { version: versionText(found?.version), value: found?.status ? { status: found.status, revoked_at: found.revoked_at, revocation_reason: found.revocation_reason } : undefined }
    }, (value) => !value)
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
    // Another issuing CA (an import): nothing signed by the old one is served again.
    this.statusChanged()
    return this.#issuer
  }
}

/** What a kept answer gives `now`: the response, and the window it holds for. */
function answerOf(p: Presigned, now: number): OcspAnswer {
  return { der: p.der, presigned: { thisUpdate: p.thisUpdate, nextUpdate: p.nextUpdate, secondsLeft: Math.floor((p.nextUpdate.getTime() - now) / 1000), etag: p.etag } }
}

/** Whether a CertID names our issuing CA (by the hashes of its algorithm). */
function isOurs(certId: CertID, issuer: IssuerHashes): boolean {
  const hashes = issuer.byAlgorithm.get(certId.hashAlgorithm.algorithm)
  return !!hashes
    && Buffer.from(certId.issuerNameHash.buffer).equals(hashes.name)
    && Buffer.from(certId.issuerKeyHash.buffer).equals(hashes.key)
}

/** Where a pre-signed response for a CertID is kept: its hash algorithm and serial; undefined when not ours. */
function presignedKey(certId: CertID, issuer: IssuerHashes): string | undefined {
  return isOurs(certId, issuer) ? `${certId.hashAlgorithm.algorithm}:${canonicalSerial(Buffer.from(certId.serialNumber).toString('hex'))}` : undefined
}

/** A successful response: the responses, signed by the issuing CA, with the request's nonce if any. */
async function sign(issuer: IssuerHashes, producedAt: Date, responses: SingleResponse[], nonce?: Extension): Promise<Buffer> {
  const data = new ResponseData({
    responderID: new ResponderID({ byKey: new KeyHash(issuer.responderKeyHash) }),
    producedAt,
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
