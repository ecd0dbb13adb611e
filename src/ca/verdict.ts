import type { Database } from '../db/database.ts'
import { toRecord, type CertificateRecord } from './authority.ts'
import type { CaHierarchy } from './hierarchy.ts'
import { canonicalSerial, x509 } from './x509.ts'

export type VerdictReason =
  | 'malformed' | 'unknown' | 'not_ours' | 'bad_signature' | 'not_yet_valid' | 'expired'
  | 'revoked' | 'suspended' | 'key_usage'

export type Verdict =
  | { valid: true; certificate: CertificateRecord }
  | { valid: false; reason: VerdictReason; message: string; certificate?: CertificateRecord }

/**
 * The one answer to "may this certificate be trusted at time `at`?", for login and signatures.
 * Checks, in order:
 * 1. it parses (a DER certificate) or names a serial;
 * 2. it is recorded in our database, byte for byte: only what PostCert issued is accepted;
 * 3. its signature verifies with the CA that issued it, which is one of ours;
 * 4. `at` is within its validity (and the issuing CA's);
 * 5. it was not revoked at `at` (a later revocation does not undo an earlier signature);
 * 6. it is not suspended now;
 * 7. its key usage allows digitalSignature.
 */
export async function judgeCertificate(db: Database, hierarchy: CaHierarchy, input: Uint8Array | string, at: Date): Promise<Verdict> {
  let presented: x509.X509Certificate | undefined
  let serial: string
  if (typeof input === 'string') {
    serial = canonicalSerial(input)
  } else {
    try {
      presented = new x509.X509Certificate(input)
    } catch {
      return { valid: false, reason: 'malformed', message: 'not a DER X.509 certificate' }
    }
    serial = canonicalSerial(presented.serialNumber)
  }

  const row = await db.selectFrom('certificate').selectAll().where('serial', '=', serial).executeTakeFirst()
  if (!row) return { valid: false, reason: 'unknown', message: `no certificate with serial ${serial} was issued by PostCert` }
  const certificate = toRecord(row)
  if (presented && !Buffer.from(presented.rawData).equals(certificate.der)) {
    return { valid: false, reason: 'not_ours', message: 'this certificate is not the one PostCert issued under its serial', certificate }
  }

  const cert = presented ?? new x509.X509Certificate(certificate.der)
  const issuer = (await hierarchy.all()).find((ca) => ca.id === certificate.issuerId)
  if (!issuer || !(await cert.verify({ publicKey: issuer.certificate.publicKey, signatureOnly: true }))) {
    return { valid: false, reason: 'bad_signature', message: 'the signature does not verify with the issuing CA', certificate }
  }
  if (at < cert.notBefore) return { valid: false, reason: 'not_yet_valid', message: `valid from ${cert.notBefore.toISOString()}`, certificate }
  if (at >= cert.notAfter || at >= issuer.certificate.notAfter) {
    return { valid: false, reason: 'expired', message: `expired on ${cert.notAfter.toISOString()}`, certificate }
  }
  if (certificate.status === 'revoked' && certificate.revokedAt && certificate.revokedAt <= at) {
    return { valid: false, reason: 'revoked', message: `revoked on ${certificate.revokedAt.toISOString()} (${certificate.revocationReason})`, certificate }
  }
  if (certificate.status === 'hold') return { valid: false, reason: 'suspended', message: 'the certificate is suspended', certificate }
  const usage = cert.getExtension(x509.KeyUsagesExtension)
  if (!usage || !(usage.usages & x509.KeyUsageFlags.digitalSignature)) {
    return { valid: false, reason: 'key_usage', message: 'the certificate is not for digital signatures', certificate }
  }
  return { valid: true, certificate }
}
