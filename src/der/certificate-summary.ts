// What anyone may read of an X.509 certificate without trusting it (serial, name, expiry, public
// key), with no Node APIs: the browser's certificate choice and the CA's verdict (which then
// compares the DER byte for byte with the one it issued) both use it.
import { DerError, equal, hex, OID, read, SEQUENCE, type Node } from './der.ts'

const OID_COMMON_NAME = hex('550403') // 2.5.4.3
const UTC_TIME = 0x17
const GENERALIZED_TIME = 0x18

export interface CertificateSummary {
  /** Lowercase hex without leading zeros, as PostCert writes serials. */
  serial: string
  /** The subject's common name (the holder's display name). */
  name?: string
  notAfter: Date
  /** SubjectPublicKeyInfo, DER. */
  spki: Uint8Array
}

export class NotACertificateError extends Error {
  override name = 'NotACertificateError'
}

/** Reads serial, subject name, expiry and public key from an X.509 certificate (DER). */
export function summarizeCertificate(der: Uint8Array): CertificateSummary {
  try {
    const { node: certificate } = read(der)
    const tbs = certificate.children()[0]!
    if (certificate.tag !== SEQUENCE || tbs.tag !== SEQUENCE) throw new DerError('not a certificate')
    const fields = tbs.children()
    // The version is an explicit [0] tag, absent for v1 certificates.
    const at = fields[0]!.tag === 0xa0 ? 1 : 0
    const [serial, , , validity, subject, spki] = fields.slice(at)
    if (!serial || !validity || !subject || !spki) throw new DerError('not a certificate')
    return {
      serial: Array.from(serial.value, (b) => b.toString(16).padStart(2, '0')).join('').replace(/^0+/, '') || '0',
      name: commonName(subject),
      notAfter: readTime(validity.children()[1]!),
      spki: spki.raw,
    }
  } catch (err) {
    if (err instanceof DerError || err instanceof TypeError) throw new NotACertificateError('this is not a certificate')
    throw err
  }
}

function commonName(name: Node): string | undefined {
  for (const rdn of name.children()) {
    for (const attribute of rdn.children()) {
      const [type, value] = attribute.children()
      if (type?.tag === OID && equal(type.value, OID_COMMON_NAME) && value) return new TextDecoder().decode(value.value)
    }
  }
  return undefined
}

function readTime(node: Node): Date {
  const text = new TextDecoder().decode(node.value)
  const match = node.tag === UTC_TIME ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
    : node.tag === GENERALIZED_TIME ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text) : null
  if (!match) throw new DerError('bad time')
  const [, y, mo, d, h, mi, s] = match.map(Number)
  // RFC 5280: UTCTime years 50-99 are 19xx, 00-49 are 20xx.
  const year = node.tag === UTC_TIME ? (y! >= 50 ? 1900 + y! : 2000 + y!) : y!
  return new Date(Date.UTC(year, mo! - 1, d, h, mi, s))
}
