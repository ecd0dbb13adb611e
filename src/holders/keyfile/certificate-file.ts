// What the browser needs to know of a certificate (serial, name, expiry, public key) and the
// backup file format, with no Node APIs: shared by the login and done pages and by tests.
// The server never trusts any of this; it judges the certificate itself at login.
import { DerError, equal, hex, OID, read, SEQUENCE, type Node } from './der.ts'
import { fromPem, toPem } from './encrypted-pkcs8.ts'

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

/** A backup file: the encrypted key, the certificate and its CA chain, as PEM. */
export interface CertificateFile {
  encryptedKeyPem: string
  certificatePem: string
  chainPem: string
}

export class CertificateFileError extends Error {
  override name = 'CertificateFileError'
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
    const [serial, , , validity, subject, spki] = fields.slice(at) as Node[]
    if (!serial || !validity || !subject || !spki) throw new DerError('not a certificate')
    return {
      serial: Array.from(serial.value, (b) => b.toString(16).padStart(2, '0')).join('').replace(/^0+/, '') || '0',
      name: commonName(subject),
      notAfter: readTime(validity.children()[1]!),
      spki: spki.raw,
    }
  } catch (err) {
    if (err instanceof DerError || err instanceof TypeError) throw new CertificateFileError('this is not a certificate')
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
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[]
  // RFC 5280: UTCTime years 50-99 are 19xx, 00-49 are 20xx.
  const year = node.tag === UTC_TIME ? (y! >= 50 ? 1900 + y! : 2000 + y!) : y!
  return new Date(Date.UTC(year, mo! - 1, d!, h!, mi!, s!))
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\s*/g

/** The backup file's text: encrypted key, then the certificate, then the CA chain. */
export function backupText(file: CertificateFile): string {
  return file.encryptedKeyPem + file.certificatePem + file.chainPem
}

/** Reads a backup file; throws CertificateFileError naming what is missing. */
export function parseBackup(text: string): CertificateFile {
  const key = fromPem(text, 'ENCRYPTED PRIVATE KEY')
  if (!key) throw new CertificateFileError('the file has no encrypted private key')
  const certificates = text.match(PEM_CERTIFICATE) ?? []
  if (certificates.length === 0) throw new CertificateFileError('the file has no certificate')
  const normalized = certificates.map((pem) => toPem(fromPem(pem, 'CERTIFICATE')!, 'CERTIFICATE'))
  return { encryptedKeyPem: toPem(key, 'ENCRYPTED PRIVATE KEY'), certificatePem: normalized[0]!, chainPem: normalized.slice(1).join('') }
}

/** The certificates (DER) in PEM text, in order. */
export function certificatesIn(pem: string): Uint8Array[] {
  return (pem.match(PEM_CERTIFICATE) ?? []).map((block) => fromPem(block, 'CERTIFICATE')!)
}

/**
 * Whether a P-256 private key (as WebCrypto exports it, JWK) belongs to this public key: an EC
 * SubjectPublicKeyInfo ends with the uncompressed point 04 || x || y.
 */
export function keyMatchesCertificate(jwk: { x?: string; y?: string }, spki: Uint8Array): boolean {
  if (!jwk.x || !jwk.y) return false
  const point = spki.subarray(spki.length - 65)
  const decode = (b64: string) => Uint8Array.from(atob(b64.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0))
  return point[0] === 0x04 && equal(point.subarray(1, 33), decode(jwk.x)) && equal(point.subarray(33), decode(jwk.y))
}
