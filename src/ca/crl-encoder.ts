import type { CaSigner } from './signer.ts'

// The CRL (RFC 5280 section 5) written out in DER in one pass: each revoked entry is encoded
// once, the lengths around them computed from their sizes. (@peculiar/x509's generator rebuilds
// its structure per entry: a 16k-entry CRL took 51 s.)

const SEQUENCE = 0x30
const INTEGER = 0x02
const OCTET_STRING = 0x04
const ENUMERATED = 0x0a
const BIT_STRING = 0x03

/** AlgorithmIdentifier ecdsa-with-SHA256 (1.2.840.10045.4.3.2), no parameters. */
const ECDSA_WITH_SHA256 = Buffer.from('300a06082a8648ce3d040302', 'hex')
/** OBJECT IDENTIFIER id-ce-cRLReasons (2.5.29.21), id-ce-cRLNumber (2.5.29.20), id-ce-authorityKeyIdentifier (2.5.29.35). */
const ID_CE_CRL_REASONS = Buffer.from('0603551d15', 'hex')
const ID_CE_CRL_NUMBER = Buffer.from('0603551d14', 'hex')
const ID_CE_AUTHORITY_KEY_IDENTIFIER = Buffer.from('0603551d23', 'hex')
/** OBJECT IDENTIFIER id-ce-issuingDistributionPoint (2.5.29.28), and BOOLEAN TRUE (critical). */
const ID_CE_ISSUING_DISTRIBUTION_POINT = Buffer.from('0603551d1c', 'hex')
const CRITICAL = Buffer.from('0101ff', 'hex')
/** INTEGER 1: version v2 (extensions present). */
const VERSION_2 = Buffer.from('020101', 'hex')

export interface CrlEntry {
  /** Lowercase hex, no leading zeros (as stored). */
  serial: string
  revokedAt: Date
  /** RFC 5280 CRLReason; 0 (unspecified) is left out, as section 5.3.1 asks. */
  reason: number
}

export interface CrlInput {
  /** The issuer's Name, DER (the issuing CA certificate's subject, byte for byte). */
  issuerName: Uint8Array
  /** The issuing CA's subject key identifier (for the authority key identifier). */
  authorityKeyId: Uint8Array
  thisUpdate: Date
  nextUpdate: Date
  number: number
  /**
   * A partition's CRL names its distribution point (the URL in its certificates' CRL
   * distribution points extension) in a critical issuing distribution point extension
   * (RFC 5280 section 5.2.5): it covers only the certificates that name the same point. The
   * complete CRL has none.
   */
  distributionPoint?: string
}

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n])
  const bytes: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff)
  return Buffer.from([0x80 | bytes.length, ...bytes])
}

function tlv(tag: number, ...content: Uint8Array[]): Buffer {
  const body = content.length === 1 ? content[0]! : Buffer.concat(content)
  return Buffer.concat([Buffer.from([tag]), length(body.length), body])
}

/** A positive INTEGER from hex: a leading zero byte when the high bit is set. */
function positiveInteger(hexDigits: string): Buffer {
  let bytes = Buffer.from(hexDigits.length % 2 ? `0${hexDigits}` : hexDigits, 'hex')
  if (bytes.length === 0) bytes = Buffer.from([0])
  return tlv(INTEGER, bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes)
}

/** UTCTime until 2049, GeneralizedTime from 2050 (RFC 5280 section 4.1.2.5), to the second. */
function time(date: Date): Buffer {
  const iso = date.toISOString()
  const digits = iso.slice(0, 19).replace(/[-T:]/g, '')
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`, 'ascii')) : tlv(0x18, Buffer.from(`${digits}Z`, 'ascii'))
}

/** One revokedCertificates element: serial, revocation date, and its reason extension. */
export function encodeEntry(entry: CrlEntry): Buffer {
  const extensions = entry.reason === 0 ? [] : [tlv(SEQUENCE, tlv(SEQUENCE, ID_CE_CRL_REASONS, tlv(OCTET_STRING, tlv(ENUMERATED, Buffer.from([entry.reason])))))]
  return tlv(SEQUENCE, positiveInteger(entry.serial), time(entry.revokedAt), ...extensions)
}

/** Bytes copied between two yields to the event loop: a million entries are about 40 MiB. */
const COPY_SLICE_BYTES = 1 << 20
const turnOfTheEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * The signed CertificateList around entries already encoded (encodeEntry; each buffer one entry
 * or several in a row), signed ECDSA with SHA-256 by the issuing CA's key. Nothing is
 * re-encoded: the to-be-signed part is written once into a buffer of its final size, the entries
 * copied in slices with the event loop let run in between (a national CRL is tens of MiB; other
 * requests go on meanwhile).
 */
export async function encodeCrl(input: CrlInput, entries: Buffer[], signer: CaSigner): Promise<Buffer> {
  const extensions = tlv(0xa0, tlv(SEQUENCE,
    tlv(SEQUENCE, ID_CE_AUTHORITY_KEY_IDENTIFIER, tlv(OCTET_STRING, tlv(SEQUENCE, tlv(0x80, input.authorityKeyId)))),
    tlv(SEQUENCE, ID_CE_CRL_NUMBER, tlv(OCTET_STRING, positiveInteger(input.number.toString(16)))),
    ...(input.distributionPoint === undefined ? [] : [issuingDistributionPoint(input.distributionPoint)]),
  ))
  const entriesLength = entries.reduce((sum, entry) => sum + entry.length, 0)
  const before = [VERSION_2, ECDSA_WITH_SHA256, input.issuerName, time(input.thisUpdate), time(input.nextUpdate),
    ...(entriesLength ? [Buffer.from([SEQUENCE]), length(entriesLength)] : [])]
  const contentLength = before.reduce((sum, part) => sum + part.length, 0) + entriesLength + extensions.length
  const header = Buffer.concat([Buffer.from([SEQUENCE]), length(contentLength)])
  const tbs = Buffer.allocUnsafe(header.length + contentLength)
  let at = 0
  let sliced = 0
  for (const part of [header, ...before, ...entries, extensions]) {
    tbs.set(part, at)
    at += part.length
    sliced += part.length
    if (sliced >= COPY_SLICE_BYTES) {
      sliced = 0
      await turnOfTheEventLoop()
    }
  }
  if (at !== tbs.length) throw new Error(`CRL encoding wrote ${at} of ${tbs.length} bytes`)
  const signature = await signer.sign(tbs)
  await turnOfTheEventLoop()
  const signatureValue = tlv(BIT_STRING, Buffer.from([0]), signature)
  return Buffer.concat([Buffer.from([SEQUENCE]), length(tbs.length + ECDSA_WITH_SHA256.length + signatureValue.length), tbs, ECDSA_WITH_SHA256, signatureValue])
}

/**
 * IssuingDistributionPoint ::= SEQUENCE { distributionPoint [0] DistributionPointName, ... } with
 * DistributionPointName's fullName [0] GeneralNames holding one uniformResourceIdentifier [6]:
 * the same name as in the certificates' DistributionPoint, so that a relying party finds the CRL
 * in scope (tags implicit, as in RFC 5280's module; the CHOICE's tag is constructed).
 */
function issuingDistributionPoint(uri: string): Buffer {
  const name = tlv(0xa0, tlv(0xa0, tlv(0x86, Buffer.from(uri, 'ascii'))))
  return tlv(SEQUENCE, ID_CE_ISSUING_DISTRIBUTION_POINT, CRITICAL, tlv(OCTET_STRING, tlv(SEQUENCE, name)))
}
