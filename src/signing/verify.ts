import { createHash, verify as verifySignature, X509Certificate, type KeyObject } from 'node:crypto'
import { BasicOCSPResponse, id_pkix_ocsp_basic, OCSPResponse, OCSPResponseStatus } from '@peculiar/asn1-ocsp'
import { AsnConvert } from '@peculiar/asn1-schema'
import { SubjectPublicKeyInfo } from '@peculiar/asn1-x509'
import * as jose from 'jose'
import type { Verdict } from '../ca/verdict.ts'
import { x509 } from '../ca/x509.ts'
import { es256Failure } from '../holders/jws-verify.ts'
import { checkSignatureCms, parseDer } from './cms-check.ts'
import { parseSignatureJws } from '../holders/keyfile/signature-jws.ts'
import { canonicalJson, type SigningPayload } from './payload.ts'
import { asText } from '../util/text.ts'

/**
 * Signature evidence, as the token response's authorization_details entry carries it and as
 * GET /signatures/{id} returns it (with `request`, the documents' texts).
 */
export interface SignatureEvidence {
  signature_id?: string
  /** The signed bytes: canonical JSON of the signing payload. */
  payload: string
  signature: Record<string, unknown>
  receipt: string
  request?: { type?: unknown; documents?: { title: string; text?: string; mime_type?: string; sha256: string }[]; transaction?: unknown }
  /** Copies of signed values a reader sees first; each must agree with what is signed (the `evidence` check). */
  type?: unknown
  documents?: unknown
  transaction?: unknown
  payload_sha256?: unknown
  signed_at?: unknown
  holder?: unknown
  certificate_serial?: unknown
  client_id?: unknown
}

/** The members evidence may have (the token response's entry, GET /signatures/{id}); any other is a failed check. */
const EVIDENCE_MEMBERS = new Set(['type', 'signature_id', 'documents', 'transaction', 'payload', 'payload_sha256', 'signature', 'receipt', 'signed_at', 'holder', 'certificate_serial', 'request', 'client_id'])
const REQUEST_MEMBERS = new Set(['type', 'documents', 'transaction'])
/** A time as PostCert writes it (toISOString): UTC, to the second or millisecond. */
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/
const DOCUMENT_MEMBERS = new Set(['title', 'text', 'text_format', 'mime_type', 'sha256', 'text_sha256'])

/** Whether a value has the shape of evidence (payload, signature, receipt); the checks then say whether it holds. */
export function isEvidence(value: unknown): value is SignatureEvidence {
  const e = value as SignatureEvidence | null
  return typeof e === 'object' && e !== null && typeof e.payload === 'string' && typeof e.receipt === 'string'
    && typeof e.signature === 'object' && e.signature !== null
}

/** What a verifier trusts: PostCert's CA certificates and the keys that sign receipts. */
export interface TrustAnchors {
  /** Root and issuing CA certificates (DER). A chain must end at one of the self-signed ones. */
  caCertificates: Uint8Array[]
  /** Public JWKs of PostCert's OIDC keys (the JWKS). */
  receiptKeys: jose.JWK[]
}

export interface VerificationCheck {
  name: 'payload' | 'signature' | 'chain' | 'receipt' | 'documents' | 'evidence' | 'ocsp' | 'validity'
  ok: boolean
  detail?: string
}

export interface VerificationReport {
  /** The signature, the certificate chain, the receipt, the payload and every copied field of the evidence all agree. */
  valid: boolean
  /** And the certificate was within validity and in good standing when it signed. */
  valid_at_signing: boolean
  signature_id?: string
  signed_at?: string
  institution?: string
  signer?: { serial: string; subject: string; holder?: string; 'x5t#S256': string }
  documents?: { title: string; sha256: string; text_matches?: boolean }[]
  transaction?: SigningPayload['transaction']
  checks: VerificationCheck[]
}

/**
 * Verifies signature evidence with the trust anchors alone: nothing here asks PostCert. Checks:
 * payload (canonical JSON of a signing payload); signature (the JWS and CMS of a certificate file,
 * or a passkey's WebAuthn assertion over the payload's SHA-256, with the certificate's key);
 * chain (the certificate chains to a trusted CA); receipt (signed by a receipt key, naming this
 * payload, institution and certificate); documents (the payload's, the receipt's and any texts
 * given agree); evidence (every value the evidence repeats beside the signed bytes, which a
 * reader may take for them: amount, payee, titles, institution, times, signer, is exactly what is
 * signed, and there is nothing else); ocsp (the status kept in the receipt is the issuing CA's
 * "good" for this certificate, from the moment of signing); validity (the signing time is within
 * the certificate's). The report shows signed values only.
 */
export async function verifyEvidence(evidence: SignatureEvidence, anchors: TrustAnchors): Promise<VerificationReport> {
  const checks: VerificationCheck[] = []
  const check = (name: VerificationCheck['name'], ok: boolean, detail?: string) => { checks.push({ name, ok, ...(detail ? { detail } : {}) }); return ok }
  const passed = (name: VerificationCheck['name']) => checks.some((c) => c.name === name && c.ok)
  const report = (extra: Partial<VerificationReport> = {}): VerificationReport => {
    const valid = (['payload', 'signature', 'chain', 'receipt', 'documents', 'evidence'] as const).every(passed)
    return { valid, valid_at_signing: valid && passed('ocsp') && passed('validity'), ...extra, checks }
  }

  let payload: SigningPayload
  try {
    payload = JSON.parse(evidence.payload) as SigningPayload
    if (!isSigningPayload(payload) || canonicalJson(payload) !== evidence.payload) throw new Error('not a canonical signing payload')
    check('payload', true)
  } catch (err) {
    check('payload', false, (err as Error).message)
    return report({ signature_id: evidence.signature_id })
  }
  const bytes = Buffer.from(evidence.payload, 'utf8')
  const common = { signature_id: evidence.signature_id, institution: payload.client_id, transaction: payload.transaction }

  // The signer's certificate: x5c[0] of the JWS, or of the passkey package.
  let chain: X509Certificate[]
  let holder: 'file' | 'passkey'
  try {
    const sig = evidence.signature
    if (sig.format === 'jws' && typeof sig.jws === 'string') {
      holder = 'file'
      const jws = parseSignatureJws(sig.jws)
      chain = jws.header.x5c.map((c) => new X509Certificate(Buffer.from(c, 'base64')))
      const leafKey = chain[0]!.publicKey
      const failure = await es256Failure(sig.jws, leafKey, bytes)
      if (failure) throw new Error(failure === 'the signature does not verify with the certificate' ? 'the JWS does not verify with its certificate' : failure)
      // A certificate file signs both ways; evidence without its CMS is not the whole signature.
      if (typeof sig.cms !== 'string') throw new Error('the CMS of the signature is missing')
      checkSignatureCms(Buffer.from(sig.cms, 'base64'), bytes, { der: chain[0]!.raw, publicKey: leafKey })
    } else if (sig.format === 'webauthn' && Array.isArray(sig.x5c)) {
      holder = 'passkey'
      chain = (sig.x5c as string[]).map((c) => new X509Certificate(Buffer.from(c, 'base64')))
      checkAssertion(sig, bytes, new URL(payload.iss), chain[0]!.publicKey)
    } else {
      throw new Error('unknown signature format')
    }
    check('signature', true)
  } catch (err) {
    check('signature', false, (err as Error).message)
    return report(common)
  }
  const leaf = chain[0]!
  const signer = { serial: leaf.serialNumber.toLowerCase().replace(/^0+/, ''), subject: leaf.subject.replace(/\n/g, ', '), holder, 'x5t#S256': createHash('sha256').update(leaf.raw).digest('base64url') }

  const path = chainToAnchor(leaf, anchors.caCertificates)
  check('chain', typeof path !== 'string', typeof path === 'string' ? path : undefined)

  let receipt: jose.JWTPayload | undefined
  try {
    const keys = jose.createLocalJWKSet({ keys: anchors.receiptKeys })
    receipt = (await jose.jwtVerify(evidence.receipt, keys, { issuer: payload.iss, audience: payload.client_id, typ: 'postcert-signature-receipt+jwt' })).payload
    const named = receipt.signer as { serial?: string; 'x5t#S256'?: string } | undefined
    if (receipt.payload_sha256 !== createHash('sha256').update(bytes).digest('base64url')) throw new Error('the receipt names other signed bytes')
    if (named?.['x5t#S256'] !== signer['x5t#S256']) throw new Error('the receipt names another certificate')
    if (evidence.signature_id && receipt.jti !== evidence.signature_id) throw new Error('the receipt is for another signature')
    if (canonicalJson(receipt.signature ?? null) !== canonicalJson(evidence.signature)) throw new Error('the receipt carries another signature')
    check('receipt', true)
  } catch (err) {
    check('receipt', false, (err as Error).message)
  }
  const signedAt = receipt?.iat ? new Date(receipt.iat * 1000) : undefined

  const documents = payload.documents?.map((d, i) => {
    const given = evidence.request?.documents?.[i]?.text
    const text = typeof given === 'string' ? given : undefined
    // The text is the signed bytes, or (a PDF, say) what was shown for them, signed as text_sha256.
    const isText = !d.mime_type || d.mime_type === 'text/plain' || d.mime_type === 'text/markdown'
    const signedText = isText ? d.sha256 : d.text_sha256
    return { title: d.title, sha256: d.sha256, ...(text !== undefined && signedText ? { text_matches: createHash('sha256').update(text, 'utf8').digest('base64url') === signedText } : {}) }
  })
  const receiptDocuments = canonicalJson((receipt?.documents) ?? null)
  const documentsOk = (!receipt || receiptDocuments === canonicalJson(payload.documents ?? null)) && !documents?.some((d) => d.text_matches === false)
  const changedTexts = (documents ?? []).flatMap((d, i) => (d.text_matches === false ? [`request.documents[${i}].text`] : []))
  check('documents', documentsOk, documentsOk ? undefined : changedTexts.length ? `not the text signed: ${changedTexts.join(', ')}` : 'the receipt lists other documents')

  const disagreeing = disagreements(evidence, { payload, bytes, signer, signedAt, receipt })
  check('evidence', disagreeing.length === 0, disagreeing.length ? `not what is signed: ${disagreeing.join(', ')}` : undefined)

  if (receipt && typeof path !== 'string' && signedAt) {
    const ocsp = ocspAtSigning(Buffer.from(asText(receipt.ocsp), 'base64'), path.issuing, leaf, signedAt)
    check('ocsp', ocsp === undefined, ocsp)
    const outside = outsideValidity(signedAt, { certificate: leaf, issuing: path.issuing, root: path.root })
    check('validity', !outside, outside ? `signed at ${signedAt.toISOString()}, outside the validity of the ${outside}` : undefined)
  }
  return report({ ...common, signed_at: signedAt?.toISOString(), signer, documents })
}

/**
 * The evidence's members that disagree with what the signature and receipt cover, by name
 * (e.g. `transaction.amount`, `request.documents[0].title`); members PostCert never writes count
 * too. A member left out misleads nobody: only what is there is compared.
 */
function disagreements(evidence: SignatureEvidence, signed: {
  payload: SigningPayload; bytes: Buffer; signer: { serial: string; holder: string }; signedAt?: Date; receipt?: jose.JWTPayload
}): string[] {
  const found: string[] = []
  // canonicalJson refuses what is never signed (a fraction, say): such a value is no signed one.
  const same = (a: unknown, b: unknown) => {
    try {
      return canonicalJson(a ?? null) === canonicalJson(b ?? null)
    } catch {
      return false
    }
  }
  const unknown = (value: unknown, allowed: Set<string>, at: string) => {
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      for (const key of Object.keys(value)) if (!allowed.has(key)) found.push(`${at}${key} (not a member of evidence)`)
    }
  }
  unknown(evidence, EVIDENCE_MEMBERS, '')
  const has = (key: keyof SignatureEvidence) => Object.hasOwn(evidence, key)
  const transaction = (value: unknown, at: string) => {
    const given = value as Record<string, unknown> | null
    const covered = signed.payload.transaction as Record<string, unknown> | undefined
    if (!covered || typeof given !== 'object' || given === null || Array.isArray(given)) {
      if (!same(given, covered)) found.push(at)
      return
    }
    for (const key of new Set([...Object.keys(given), ...Object.keys(covered)])) if (!same(given[key], covered[key])) found.push(`${at}.${key}`)
  }
  // Each document given is the signed one at its index, in every field it gives (title, media
  // type, digest); one more than was signed is not.
  const documents = (value: unknown, at: string, withText: boolean) => {
    const covered = signed.payload.documents ?? []
    if (!Array.isArray(value)) return void found.push(at)
    if (value.length > covered.length) found.push(`${at} (${value.length} documents, ${covered.length} signed)`)
    value.forEach((d: unknown, i: number) => {
      const doc = d as Record<string, unknown> | null
      if (typeof doc !== 'object' || doc === null) return void found.push(`${at}[${i}]`)
      unknown(doc, withText ? DOCUMENT_MEMBERS : new Set(['title', 'mime_type', 'sha256', 'text_sha256']), `${at}[${i}].`)
      for (const key of ['title', 'mime_type', 'sha256', 'text_sha256'] as const) if (Object.hasOwn(doc, key) && !same(doc[key], covered[i]?.[key])) found.push(`${at}[${i}].${key}`)
    })
  }
  if (has('type') && evidence.type !== 'postcert_signature') found.push('type')
  if (has('documents')) documents(evidence.documents, 'documents', false)
  if (has('transaction')) transaction(evidence.transaction, 'transaction')
  if (has('client_id') && evidence.client_id !== signed.payload.client_id) found.push('client_id')
  if (has('payload_sha256') && evidence.payload_sha256 !== createHash('sha256').update(signed.bytes).digest('base64url')) found.push('payload_sha256')
  if (has('certificate_serial') && (typeof evidence.certificate_serial !== 'string' || evidence.certificate_serial.toLowerCase().replace(/^0+/, '') !== signed.signer.serial)) found.push('certificate_serial')
  if (has('holder') && evidence.holder !== signed.signer.holder) found.push('holder')
  // The receipt's iat is in whole seconds; the archive keeps milliseconds.
  if (has('signed_at') && (!signed.signedAt || typeof evidence.signed_at !== 'string' || !ISO_UTC.test(evidence.signed_at)
    || Math.floor(Date.parse(evidence.signed_at) / 1000) !== Math.floor(signed.signedAt.getTime() / 1000))) found.push('signed_at')
  if (has('request')) {
    const request = evidence.request as Record<string, unknown> | null
    if (typeof request !== 'object' || request === null || Array.isArray(request)) {
      found.push('request')
    } else {
      unknown(request, REQUEST_MEMBERS, 'request.')
      if (Object.hasOwn(request, 'type') && request.type !== 'postcert_signature') found.push('request.type')
      if (Object.hasOwn(request, 'documents')) documents(request.documents, 'request.documents', true)
      if (Object.hasOwn(request, 'transaction')) transaction(request.transaction, 'request.transaction')
    }
  }
  return found
}

/** The shape of a signing payload (signingPayload makes them); anything else is refused before it is read. */
function isSigningPayload(value: unknown): value is SigningPayload {
  const p = value as SigningPayload | null
  const strings = (o: unknown, keys: string[]) => typeof o === 'object' && o !== null && keys.every((k) => typeof (o as Record<string, unknown>)[k] === 'string')
  return typeof p === 'object' && p !== null && p.v === 1 && typeof p.iss === 'string' && URL.canParse(p.iss) && typeof p.client_id === 'string'
    && typeof p.nonce === 'string' && Number.isSafeInteger(p.iat)
    && (p.documents === undefined || (Array.isArray(p.documents) && p.documents.every((d) => strings(d, ['title', 'sha256'])
      && (d.mime_type === undefined || typeof d.mime_type === 'string') && (d.text_sha256 === undefined || typeof d.text_sha256 === 'string'))))
    && (p.transaction === undefined || strings(p.transaction, ['amount', 'currency', 'payee', 'account']))
}

export interface StatusNow {
  status_now?: string
  revoked_at?: string
  revocation_reason?: string
}

/**
 * The report with how the signer's certificate stands now (`judge`: the verdict of this moment).
 * Said only of a certificate that chains to PostCert: a lookup by serial alone could describe another.
 */
export async function withStatusNow(report: VerificationReport, judge: (serial: string) => Promise<Verdict>): Promise<VerificationReport & StatusNow> {
  const ours = report.signer && report.checks.some((c) => c.name === 'chain' && c.ok)
  return ours ? { ...report, ...statusNowOf(await judge(report.signer!.serial)) } : report
}

function statusNowOf(verdict: Verdict): StatusNow {
  if (verdict.valid) return { status_now: 'good' }
  const status = verdict.reason === 'revoked' || verdict.reason === 'suspended' || verdict.reason === 'expired' ? verdict.reason : 'unknown'
  const revokedAt = verdict.certificate?.revokedAt
  return { status_now: status, ...(revokedAt ? { revoked_at: revokedAt.toISOString(), revocation_reason: verdict.certificate?.revocationReason ?? undefined } : {}) }
}

/** A passkey's assertion over the payload, checked as WebAuthn does, with the certificate's key. */
function checkAssertion(sig: Record<string, unknown>, payload: Buffer, issuer: URL, key: KeyObject): void {
  const clientDataJson = Buffer.from(String(sig.client_data_json), 'base64url')
  const authenticatorData = Buffer.from(String(sig.authenticator_data), 'base64url')
  const clientData = JSON.parse(clientDataJson.toString('utf8')) as { type?: string; challenge?: string; origin?: string }
  if (clientData.type !== 'webauthn.get') throw new Error('not a WebAuthn assertion')
  if (clientData.challenge !== createHash('sha256').update(payload).digest('base64url')) throw new Error('the assertion signs another payload')
  if (clientData.origin !== issuer.origin) throw new Error('the assertion was made for another origin')
  if (authenticatorData.length < 37 || !authenticatorData.subarray(0, 32).equals(createHash('sha256').update(issuer.hostname).digest())) throw new Error('the assertion was made for another RP id')
  if ((authenticatorData[32]! & 0x05) !== 0x05) throw new Error('the assertion lacks user presence and verification')
  const signed = Buffer.concat([authenticatorData, createHash('sha256').update(clientDataJson).digest()])
  const algorithm = key.asymmetricKeyType === 'ed25519' ? null : 'sha256'
  if (!verifySignature(algorithm, signed, key, Buffer.from(String(sig.signature), 'base64url'))) throw new Error('the assertion does not verify with the certificate')
}

/**
 * The path from `leaf` to a trusted root: the issuing CA among the anchors that signed it, and the
 * self-signed root among them that signed that, as RFC 5280 allows it (both CAs with
 * basicConstraints CA:TRUE and keyCertSign, path lengths that admit the issuing CA, a leaf that is
 * no CA). Or why there is none.
 */
export function chainToAnchor(leaf: X509Certificate, anchors: Uint8Array[]): { issuing: X509Certificate; root: X509Certificate } | string {
  const cas = anchors.map((der) => new X509Certificate(der))
  if (leaf.ca) return 'the signer\'s certificate is a CA certificate'
  const issuing = cas.find((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey))
  if (!issuing) return 'the certificate does not chain to a trusted PostCert CA'
  const root = cas.find((ca) => issuing.checkIssued(ca) && issuing.verify(ca.publicKey) && ca.checkIssued(ca) && ca.verify(ca.publicKey))
  if (!root) return 'the issuing CA does not chain to a trusted PostCert root'
  // The root may have the issuing CA below it (1 CA), the issuing CA the leaf only (0 CAs).
  for (const [ca, below, name] of [[root, 1, 'root'], [issuing, 0, 'issuing CA']] as const) {
    const problem = caProblem(ca, below)
    if (problem) return `the ${name} ${problem}`
  }
  return { issuing, root }
}

/** Why `ca` may not sign certificates with `below` CA certificates under it in a path, or undefined. */
function caProblem(ca: X509Certificate, below: number): string | undefined {
  const parsed = new x509.X509Certificate(ca.raw)
  const constraints = parsed.getExtension(x509.BasicConstraintsExtension)
  if (!constraints?.ca) return 'is not a CA (basicConstraints CA:TRUE)'
  if (constraints.pathLength !== undefined && constraints.pathLength < below) return `allows ${constraints.pathLength} CA certificates below it (path length)`
  const usage = parsed.getExtension(x509.KeyUsagesExtension)
  if (usage && !(usage.usages & x509.KeyUsageFlags.keyCertSign)) return 'may not sign certificates (keyUsage keyCertSign)'
  return undefined
}

/** Which certificate of the path was not valid at `at` (the signing time), or undefined when all were. */
function outsideValidity(at: Date, path: { certificate: X509Certificate; issuing: X509Certificate; root: X509Certificate }): string | undefined {
  const names = { certificate: 'certificate', issuing: 'issuing CA', root: 'root CA' } as const
  for (const key of ['certificate', 'issuing', 'root'] as const) {
    const c = path[key]
    if (at < new Date(c.validFrom) || at >= new Date(c.validTo)) return names[key]
  }
  return undefined
}

const ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2'
const CERT_ID_HASHES: Record<string, string> = { '1.3.14.3.2.26': 'sha1', '2.16.840.1.101.3.4.2.1': 'sha256' }

/**
 * Why the receipt's OCSP response is not the issuing CA's "good" for `leaf` at signing time, or
 * undefined. Read with the @peculiar/asn1-ocsp schemas, DER only (each layer encodes back to the
 * bytes given), signed with ecdsa-with-SHA256 by the issuing CA, about exactly one certificate:
 * this one (serial and issuer key hash), produced within five minutes of the signature.
 */
export function ocspAtSigning(der: Uint8Array, issuing: X509Certificate, leaf: X509Certificate, signedAt: Date): string | undefined {
  try {
    const response = parseDer(der, OCSPResponse, 'the OCSP response')
    if (response.responseStatus !== OCSPResponseStatus.successful || !response.responseBytes) return 'the OCSP response is not successful'
    if (response.responseBytes.responseType !== id_pkix_ocsp_basic) return 'the OCSP response is not a basic one'
    const basic = parseDer(new Uint8Array(response.responseBytes.response.buffer), BasicOCSPResponse, 'the basic OCSP response')
    if (basic.signatureAlgorithm.algorithm !== ECDSA_WITH_SHA256 || basic.signatureAlgorithm.parameters) return 'the OCSP response is not signed with ecdsa-with-SHA256'
    const tbs = Buffer.from(AsnConvert.serialize(basic.tbsResponseData))
    // A DER signature, node:crypto's default (the key passed alone: ca/signer.ts says why).
    if (!verifySignature('sha256', tbs, issuing.publicKey, Buffer.from(basic.signature))) {
      return 'the OCSP response is not signed by the issuing CA'
    }
    const data = basic.tbsResponseData
    if (data.responses.length !== 1) return 'the OCSP response must be about one certificate'
    const single = data.responses[0]!
    const hash = CERT_ID_HASHES[single.certID.hashAlgorithm.algorithm]
    if (!hash) return 'the OCSP response names the certificate with an unknown hash'
    const issuerKey = AsnConvert.parse(issuing.publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo).subjectPublicKey
    if (!createHash(hash).update(Buffer.from(issuerKey)).digest().equals(Buffer.from(single.certID.issuerKeyHash.buffer))) return 'the OCSP response is about a certificate of another CA'
    const serial = Buffer.from(single.certID.serialNumber).toString('hex').replace(/^0+/, '')
    if (serial !== leaf.serialNumber.toLowerCase().replace(/^0+/, '')) return 'the OCSP response is for another certificate'
    if (single.certStatus.good === undefined) return 'the OCSP response does not say good'
    if (Math.abs(data.producedAt.getTime() - signedAt.getTime()) > 5 * 60 * 1000) return 'the OCSP response is not from the time of signing'
    return undefined
  } catch (err) {
    return `the OCSP response cannot be read (${(err as Error).message})`
  }
}
