import { createHash, verify, type KeyObject } from 'node:crypto'
import { equal, OCTET_STRING, read, SEQUENCE, type Node } from '../holders/keyfile/der.ts'
import { CMS_OIDS } from '../holders/keyfile/signature-cms.ts'

/** Largest CMS accepted: a chain of three certificates and one signer fit well within. */
export const MAX_CMS_BYTES = 16 * 1024

const hexOf = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex')
// The identifiers the signing side writes, as hex to compare encodings and to key attributes by.
const OID_DATA = hexOf(CMS_OIDS.data)
const OID_SIGNED_DATA = hexOf(CMS_OIDS.signedData)
const OID_CONTENT_TYPE = hexOf(CMS_OIDS.contentType)
const OID_MESSAGE_DIGEST = hexOf(CMS_OIDS.messageDigest)
const OID_SIGNING_TIME = hexOf(CMS_OIDS.signingTime)
const OID_SHA256 = hexOf(CMS_OIDS.sha256)
const OID_ECDSA_SHA256 = hexOf(CMS_OIDS.ecdsaWithSha256)

/**
 * Checks a detached CMS SignedData made by createSignatureCms, in order:
 * 1. a ContentInfo of signedData over id-data, without the content (detached);
 * 2. one SignerInfo, SHA-256 and ecdsa-with-SHA256, naming the signer's certificate by
 *    issuer and serial, and that certificate included byte for byte;
 * 3. signed attributes: contentType id-data, messageDigest = SHA-256 of `content`, a signingTime;
 * 4. the signature over the signed attributes verifies with the signer's key.
 * Returns the signing time. Throws Error('...') naming the check that failed.
 */
export function checkSignatureCms(cms: Uint8Array, content: Uint8Array, signer: { der: Uint8Array; publicKey: KeyObject }): Date {
  if (cms.length > MAX_CMS_BYTES) throw new Error('the CMS is too large')
  const [type, wrapped] = top(cms).children()
  if (!type || hexOf(type.raw) !== OID_SIGNED_DATA || wrapped?.tag !== 0xa0) throw new Error('not a CMS SignedData')
  const signedData = wrapped.children()[0]!
  const parts = signedData.children()
  const encap = parts[2]
  if (!encap || encap.tag !== SEQUENCE || hexOf(encap.children()[0]?.raw ?? new Uint8Array()) !== OID_DATA) throw new Error('the CMS must sign id-data')
  if (encap.children().length !== 1) throw new Error('the CMS must be detached (no content inside)')
  const certificates = parts.find((p) => p.tag === 0xa0)?.children() ?? []
  const signerInfos = parts[parts.length - 1]!.children()
  if (signerInfos.length !== 1) throw new Error('the CMS must have exactly one signer')
  const [, sid, digestAlgorithm, signedAttrs, signatureAlgorithm, signature] = signerInfos[0]!.children()
  if (!sid || !digestAlgorithm || signedAttrs?.tag !== 0xa0 || !signatureAlgorithm || signature?.tag !== OCTET_STRING) throw new Error('the SignerInfo is malformed')
  if (hexOf(digestAlgorithm.children()[0]!.raw) !== OID_SHA256) throw new Error('the digest must be SHA-256')
  if (hexOf(signatureAlgorithm.children()[0]!.raw) !== OID_ECDSA_SHA256) throw new Error('the signature must be ecdsa-with-SHA256')

  const tbs = top(signer.der).children()[0]!.children()
  const at = tbs[0]!.tag === 0xa0 ? 1 : 0
  const [issuer, serial] = sid.children()
  if (!issuer || !serial || !equal(issuer.raw, tbs[at + 2]!.raw) || !equal(serial.raw, tbs[at]!.raw)) throw new Error('the CMS names another signer')
  if (!certificates.some((c) => equal(c.raw, signer.der))) throw new Error('the CMS does not include the signer\'s certificate')

  const attributes = new Map(signedAttrs.children().map((a) => {
    const [oid, values] = a.children()
    return [hexOf(oid!.raw), values!.children()[0]!] as const
  }))
  if (hexOf(attributes.get(OID_CONTENT_TYPE)?.raw ?? new Uint8Array()) !== OID_DATA) throw new Error('the contentType attribute must be id-data')
  const digest = attributes.get(OID_MESSAGE_DIGEST)
  if (digest?.tag !== OCTET_STRING || !equal(digest.value, createHash('sha256').update(content).digest())) throw new Error('the messageDigest is not the payload\'s')
  const signingTime = attributes.get(OID_SIGNING_TIME)
  if (!signingTime) throw new Error('the signingTime attribute is missing')

  // What was signed is the attributes encoded as a SET, not as the [0] they travel in.
  const signedBytes = Buffer.from(signedAttrs.raw)
  signedBytes[0] = 0x31
  if (!verify('sha256', signedBytes, { key: signer.publicKey, dsaEncoding: 'der' }, signature.value)) throw new Error('the CMS signature does not verify with the certificate')
  return readUtcTime(signingTime)
}

function top(der: Uint8Array): Node {
  const { node, end } = read(der)
  if (node.tag !== SEQUENCE || end !== der.length) throw new Error('not a single DER SEQUENCE')
  return node
}

function readUtcTime(node: Node): Date {
  const m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(new TextDecoder().decode(node.value))
  if (node.tag !== 0x17 || !m) throw new Error('the signingTime must be a UTCTime')
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[]
  return new Date(Date.UTC(y! >= 50 ? 1900 + y! : 2000 + y!, mo! - 1, d!, h!, mi!, s!))
}
