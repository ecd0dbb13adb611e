// A certificate file's signature of a signing payload as a detached CMS SignedData (RFC 5652), what
// Korean institutions verify today: `openssl cms -verify -binary -inform DER -content payload.json`
// accepts it with PostCert's chain. Built with the small DER writer, so that it runs in the browser.
import type { CryptoKey } from './compact-jws.ts'
import { DerError, integer, OCTET_STRING, OID, read, SEQUENCE, tlv } from '../../der/der.ts'

const SET = 0x31
const UTC_TIME = 0x17
const oid = (dotted: string) => tlv(OID, encodeOid(dotted))

/** The object identifiers of a signature CMS, DER (tag, length, value): written here, checked by src/signing/cms-check.ts. */
export const CMS_OIDS = {
  signedData: oid('1.2.840.113549.1.7.2'),
  data: oid('1.2.840.113549.1.7.1'),
  contentType: oid('1.2.840.113549.1.9.3'),
  messageDigest: oid('1.2.840.113549.1.9.4'),
  signingTime: oid('1.2.840.113549.1.9.5'),
  sha256: oid('2.16.840.1.101.3.4.2.1'),
  ecdsaWithSha256: oid('1.2.840.10045.4.3.2'),
}
const { signedData: ID_SIGNED_DATA, data: ID_DATA, contentType: ID_CONTENT_TYPE, messageDigest: ID_MESSAGE_DIGEST, signingTime: ID_SIGNING_TIME } = CMS_OIDS
const SHA256 = tlv(SEQUENCE, CMS_OIDS.sha256)
const ECDSA_WITH_SHA256 = tlv(SEQUENCE, CMS_OIDS.ecdsaWithSha256)

/**
 * SignedData over `content` (not included: detached), signed by the leaf of `chain` (DER, leaf
 * first; every certificate is included), with contentType, signingTime and messageDigest as
 * signed attributes. Returns the DER ContentInfo.
 */
export async function createSignatureCms(privateKey: CryptoKey, chain: Uint8Array[], content: Uint8Array, signedAt: Date): Promise<Uint8Array> {
  const { issuer, serial } = issuerAndSerial(chain[0]!)
  // The assertion is needed by the pages' scripts' DOM types (src/browser/tsconfig.json), not Node's.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
  const digest = new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', content as Uint8Array<ArrayBuffer>))
  // DER orders a SET OF by the encodings of its members.
  const attributes = [
    tlv(SEQUENCE, ID_CONTENT_TYPE, tlv(SET, ID_DATA)),
    tlv(SEQUENCE, ID_SIGNING_TIME, tlv(SET, utcTime(signedAt))),
    tlv(SEQUENCE, ID_MESSAGE_DIGEST, tlv(SET, tlv(OCTET_STRING, digest))),
  ].sort(compareBytes)
  // The signature covers the attributes encoded as a SET; in SignerInfo they are [0] IMPLICIT.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- needed by the DOM types, as above
  const p1363 = new Uint8Array(await globalThis.crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, tlv(SET, ...attributes) as Uint8Array<ArrayBuffer>))
  const signerInfo = tlv(SEQUENCE,
    integer(1), tlv(SEQUENCE, issuer, serial), SHA256, tlv(0xa0, ...attributes), ECDSA_WITH_SHA256,
    tlv(OCTET_STRING, ecdsaDer(p1363)))
  const signedData = tlv(SEQUENCE,
    integer(1), tlv(SET, SHA256), tlv(SEQUENCE, ID_DATA), tlv(0xa0, ...chain), tlv(SET, signerInfo))
  return tlv(SEQUENCE, ID_SIGNED_DATA, tlv(0xa0, signedData))
}

/** The issuer Name and serialNumber INTEGER of a certificate, as encoded in it. */
function issuerAndSerial(der: Uint8Array): { issuer: Uint8Array; serial: Uint8Array } {
  const tbs = read(der).node.children()[0]
  if (!tbs || tbs.tag !== SEQUENCE) throw new DerError('not a certificate')
  const fields = tbs.children()
  const at = fields[0]!.tag === 0xa0 ? 1 : 0
  return { serial: fields[at]!.raw, issuer: fields[at + 2]!.raw }
}

/** WebCrypto's r || s as the DER ECDSA-Sig-Value CMS carries. */
function ecdsaDer(p1363: Uint8Array): Uint8Array {
  const half = p1363.length / 2
  const int = (bytes: Uint8Array) => {
    let start = 0
    while (start < bytes.length - 1 && bytes[start] === 0) start++
    const trimmed = bytes.subarray(start)
    return tlv(0x02, ...(trimmed[0]! & 0x80 ? [new Uint8Array([0]), trimmed] : [trimmed]))
  }
  return tlv(SEQUENCE, int(p1363.subarray(0, half)), int(p1363.subarray(half)))
}

function utcTime(date: Date): Uint8Array {
  const iso = date.toISOString()
  return tlv(UTC_TIME, new TextEncoder().encode(`${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`))
}

function encodeOid(dotted: string): Uint8Array {
  const [a, b, ...rest] = dotted.split('.').map(Number)
  const bytes = [a! * 40 + b!]
  for (const arc of rest) {
    const chunk = [arc & 0x7f]
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift((v & 0x7f) | 0x80)
    bytes.push(...chunk)
  }
  return new Uint8Array(bytes)
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!
  return a.length - b.length
}
