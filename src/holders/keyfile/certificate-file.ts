// The backup file format (encrypted key, certificate, chain) and whether a key belongs to a
// certificate, with no Node APIs: shared by the login and done pages and by tests.
// The server never trusts any of this; it judges the certificate itself at login.
import { equal } from '../../der/der.ts'
import { fromPem, toPem } from './encrypted-pkcs8.ts'

/** A backup file: the encrypted key, the certificate and its CA chain, as PEM. */
export interface CertificateFile {
  encryptedKeyPem: string
  certificatePem: string
  chainPem: string
}

export class CertificateFileError extends Error {
  override name = 'CertificateFileError'
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
