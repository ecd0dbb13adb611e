import { createHash, verify, type KeyObject } from 'node:crypto'
import { Attribute, ContentInfo, id_data, id_signedData, SignedData } from '@peculiar/asn1-cms'
import { AsnArray, AsnConvert, AsnType, AsnTypeTypes, OctetString } from '@peculiar/asn1-schema'
import { Certificate } from '@peculiar/asn1-x509'
import { CMS_OIDS } from '../holders/keyfile/signature-cms.ts'

/** Largest CMS accepted: a chain of three certificates and one signer fit well within. */
export const MAX_CMS_BYTES = 16 * 1024

const ID_SHA256 = '2.16.840.1.101.3.4.2.1'
const ID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2'
const ID_CONTENT_TYPE = '1.2.840.113549.1.9.3'
const ID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4'
const ID_SIGNING_TIME = '1.2.840.113549.1.9.5'
/** The signed attributes createSignatureCms writes, each once with one value; no other is accepted. */
const SIGNED_ATTRIBUTES = new Set([ID_CONTENT_TYPE, ID_MESSAGE_DIGEST, ID_SIGNING_TIME])

/**
 * Parses `der` as `type` with the @peculiar/asn1 schema, and refuses it unless encoding the result
 * gives back exactly `der`: BER (indefinite or padded lengths), trailing bytes, empty or padded
 * integers and the like are refused, so that an archived signature has one encoding only.
 */
export function parseDer<T>(der: Uint8Array, type: new () => T, what: string): T {
  let parsed: T
  try {
    parsed = AsnConvert.parse(der, type)
  } catch {
    throw new Error(`${what} is not readable ASN.1`)
  }
  if (!Buffer.from(AsnConvert.serialize(parsed)).equals(Buffer.from(der))) throw new Error(`${what} is not in DER`)
  return parsed
}

/** SET OF Attribute: the signed attributes as their signature covers them (RFC 5652 5.4). */
export class AttributeSet extends AsnArray<Attribute> {
  constructor(items?: Attribute[]) {
    super(items)
    Object.setPrototypeOf(this, AttributeSet.prototype)
  }
}
AsnType({ type: AsnTypeTypes.Set, itemType: Attribute })(AttributeSet)

const bytes = (buffer: ArrayBuffer | Uint8Array) => Buffer.from(buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer))

/**
 * Checks a detached CMS SignedData made by createSignatureCms, in order:
 * 1. DER throughout (re-encoding each layer gives the input back), a ContentInfo of signedData
 *    over id-data, without the content (detached), no CRLs;
 * 2. one SignerInfo, SHA-256 and ecdsa-with-SHA256, naming the signer's certificate by issuer
 *    and serial, that certificate included byte for byte, no unsigned attributes;
 * 3. signed attributes: exactly contentType id-data, messageDigest = SHA-256 of `content` and a
 *    signingTime, each once with one value;
 * 4. the signature over the signed attributes verifies with the signer's key.
 * Returns the signing time. Throws Error('...') naming the check that failed.
 */
export function checkSignatureCms(cms: Uint8Array, content: Uint8Array, signer: { der: Uint8Array; publicKey: KeyObject }): Date {
  if (cms.length > MAX_CMS_BYTES) throw new Error('the CMS is too large')
  const info = parseDer(cms, ContentInfo, 'the CMS')
  if (info.contentType !== id_signedData) throw new Error('not a CMS SignedData')
  const signedData = parseDer(bytes(info.content), SignedData, 'the CMS SignedData')
  if (signedData.encapContentInfo.eContentType !== id_data) throw new Error('the CMS must sign id-data')
  if (signedData.encapContentInfo.eContent) throw new Error('the CMS must be detached (no content inside)')
  if (signedData.crls?.length) throw new Error('the CMS must not carry CRLs')
  if (signedData.digestAlgorithms.length !== 1 || signedData.digestAlgorithms[0]!.algorithm !== ID_SHA256) throw new Error('the digest must be SHA-256')
  if (signedData.signerInfos.length !== 1) throw new Error('the CMS must have exactly one signer')
  const signerInfo = signedData.signerInfos[0]!
  if (signerInfo.digestAlgorithm.algorithm !== ID_SHA256 || signerInfo.digestAlgorithm.parameters) throw new Error('the digest must be SHA-256')
  if (signerInfo.signatureAlgorithm.algorithm !== ID_ECDSA_WITH_SHA256 || signerInfo.signatureAlgorithm.parameters) throw new Error('the signature must be ecdsa-with-SHA256')
  if (signerInfo.unsignedAttrs?.length) throw new Error('the CMS must not have unsigned attributes')

  const certificate = parseDer(signer.der, Certificate, 'the signer\'s certificate')
  const named = signerInfo.sid.issuerAndSerialNumber
  if (!named || !bytes(AsnConvert.serialize(named.issuer)).equals(bytes(AsnConvert.serialize(certificate.tbsCertificate.issuer)))
    || !bytes(named.serialNumber).equals(bytes(certificate.tbsCertificate.serialNumber))) throw new Error('the CMS names another signer')
  const included = (signedData.certificates ?? []).map((c) => (c.certificate ? bytes(AsnConvert.serialize(c.certificate)) : undefined))
  if (!included.some((der) => der?.equals(bytes(signer.der)))) throw new Error('the CMS does not include the signer\'s certificate')

  const attributes = new Map<string, Buffer>()
  for (const attribute of signerInfo.signedAttrs ?? []) {
    if (!SIGNED_ATTRIBUTES.has(attribute.attrType)) throw new Error(`the CMS has a signed attribute PostCert does not write (${attribute.attrType})`)
    if (attributes.has(attribute.attrType)) throw new Error('the CMS repeats a signed attribute')
    if (attribute.attrValues.length !== 1) throw new Error('a signed attribute of the CMS must have exactly one value')
    attributes.set(attribute.attrType, bytes(attribute.attrValues[0]!))
  }
  if (!attributes.get(ID_CONTENT_TYPE)?.equals(bytes(CMS_OIDS.data))) throw new Error('the contentType attribute must be id-data')
  const digest = attributes.get(ID_MESSAGE_DIGEST)
  if (!digest || !bytes(parseDer(digest, OctetString, 'the messageDigest').buffer).equals(createHash('sha256').update(content).digest())) {
    throw new Error('the messageDigest is not the payload\'s')
  }
  const signingTime = attributes.get(ID_SIGNING_TIME)
  if (!signingTime) throw new Error('the signingTime attribute is missing')

  // What was signed is the attributes encoded as a SET, not as the [0] they travel in; the CMS
  // being DER, encoding them again gives the bytes the signer signed. The signature is DER too,
  // node:crypto's default (the key passed alone: ca/signer.ts says why).
  const signedBytes = bytes(AsnConvert.serialize(new AttributeSet(signerInfo.signedAttrs)))
  if (!verify('sha256', signedBytes, signer.publicKey, bytes(signerInfo.signature.buffer))) {
    throw new Error('the CMS signature does not verify with the certificate')
  }
  return readUtcTime(signingTime)
}

/** A DER UTCTime to the second, in UTC (what createSignatureCms writes). */
function readUtcTime(der: Buffer): Date {
  const m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(der.subarray(2).toString('latin1'))
  if (der[0] !== 0x17 || der[1] !== der.length - 2 || !m) throw new Error('the signingTime must be a UTCTime')
  const [, y, mo, d, h, mi, s] = m.map(Number)
  const time = new Date(Date.UTC(y! >= 50 ? 1900 + y! : 2000 + y!, mo! - 1, d, h, mi, s))
  if (time.getUTCMonth() !== mo! - 1 || time.getUTCDate() !== d! || time.getUTCHours() !== h! || time.getUTCMinutes() !== mi! || time.getUTCSeconds() !== s!) {
    throw new Error('the signingTime is not a date')
  }
  return time
}
