import type { Database } from '../db/database.ts'
import { summarizeCertificate } from '../der/certificate-summary.ts'
import { BoundedMap } from '../util/bounded-map.ts'
import { toRecord, type CertificateRecord, type CertificateRow } from './authority.ts'
import type { CaHierarchy } from './hierarchy.ts'
import { canonicalSerial, x509 } from './x509.ts'

export type VerdictReason =
  | 'malformed' | 'unknown' | 'not_ours' | 'bad_signature' | 'not_yet_valid' | 'expired'
  | 'revoked' | 'suspended' | 'key_usage'

/**
 * What never changes for a recorded certificate: whether its signature verifies with its CA and
 * whether its key usage allows signatures. Remembered per serial (bounded), so the hot path of a
 * login is one row lookup, a byte comparison, dates and status.
 */
export class StaticCheckCache extends BoundedMap<string, 'ok' | 'bad_signature' | 'key_usage'> {
  constructor(max = 10_000) {
    super(max)
  }
}

export type Verdict =
  | { valid: true; certificate: CertificateRecord }
  | { valid: false; reason: VerdictReason; message: string; certificate?: CertificateRecord }

/**
 * The one answer to "may this certificate be trusted at time `at`?", for login and signatures.
 * Checks, in order:
 * 1. it parses (a DER certificate) or names a serial;
 * 2. it is recorded in our database, byte for byte: only what PostCert issued is accepted;
 * 3. its signature verifies with the CA that issued it, which is one of ours (remembered per serial);
 * 4. `at` is within its validity (and the issuing CA's);
 * 5. it was not revoked at `at` (a later revocation does not undo an earlier signature);
 * 6. it is not suspended now;
 * 7. its key usage allows digitalSignature (remembered per serial).
 */
export async function judgeCertificate(db: Database, hierarchy: CaHierarchy, input: Uint8Array | string, at: Date, cache = new StaticCheckCache()): Promise<Verdict> {
  const serial = serialOf(input)
  if (serial === undefined) return MALFORMED
  const row = await db.selectFrom('certificate').selectAll().where('serial', '=', serial).executeTakeFirst() // certificate_pkey
  return await judgeRecorded(hierarchy, input, serial, row, at, cache)
}

const MALFORMED: Verdict = { valid: false, reason: 'malformed', message: 'not a DER X.509 certificate' }

/** The serial a certificate (DER) or serial names, canonical; undefined for DER that does not parse. */
export function serialOf(input: Uint8Array | string): string | undefined {
  if (typeof input === 'string') return canonicalSerial(input)
  try {
    // Only the serial is needed here: the recorded DER is compared byte for byte in the verdict.
    return summarizeCertificate(input).serial
  } catch {
    return undefined
  }
}

/**
 * judgeCertificate on the certificate row already read under `serial` (serialOf the input), by a
 * statement that read it with something else (a proof's challenge: possession/proofs.ts).
 */
export async function judgeRecorded(hierarchy: CaHierarchy, input: Uint8Array | string, serial: string, row: CertificateRow | undefined, at: Date, cache = new StaticCheckCache()): Promise<Verdict> {
  if (!row) return { valid: false, reason: 'unknown', message: `no certificate with serial ${serial} was issued by PostCert` }
  const certificate = toRecord(row)
  if (typeof input !== 'string' && !Buffer.from(input).equals(certificate.der)) {
    return { valid: false, reason: 'not_ours', message: 'this certificate is not the one PostCert issued under its serial', certificate }
  }

  const issuer = (await hierarchy.all()).find((ca) => ca.id === certificate.issuerId)
  let checks = cache.get(serial)
  if (!checks) {
    const cert = new x509.X509Certificate(certificate.der)
    const usage = cert.getExtension(x509.KeyUsagesExtension)
    checks = !issuer || !(await cert.verify({ publicKey: issuer.certificate.publicKey, signatureOnly: true })) ? 'bad_signature'
      : !usage || !(usage.usages & x509.KeyUsageFlags.digitalSignature) ? 'key_usage' : 'ok'
    cache.set(serial, checks)
  }
  if (checks === 'bad_signature' || !issuer) {
    return { valid: false, reason: 'bad_signature', message: 'the signature does not verify with the issuing CA', certificate }
  }
  if (at < certificate.notBefore) return { valid: false, reason: 'not_yet_valid', message: `valid from ${certificate.notBefore.toISOString()}`, certificate }
  if (at >= certificate.notAfter || at >= issuer.certificate.notAfter) {
    return { valid: false, reason: 'expired', message: `expired on ${certificate.notAfter.toISOString()}`, certificate }
  }
  if (certificate.status === 'revoked' && certificate.revokedAt && certificate.revokedAt <= at) {
    return { valid: false, reason: 'revoked', message: `revoked on ${certificate.revokedAt.toISOString()} (${certificate.revocationReason})`, certificate }
  }
  if (certificate.status === 'hold') return { valid: false, reason: 'suspended', message: 'the certificate is suspended', certificate }
  if (checks === 'key_usage') return { valid: false, reason: 'key_usage', message: 'the certificate is not for digital signatures', certificate }
  return { valid: true, certificate }
}
