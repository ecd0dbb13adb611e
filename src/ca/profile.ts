import { randomBytes, webcrypto } from 'node:crypto'
import type { HolderKind } from '../db/schema/certificate.ts'
import { POLICY_OIDS } from './constants.ts'
import type { IssuingCa } from './hierarchy.ts'
import { webCryptoSigner } from './signer.ts'
import { x509 } from './x509.ts'

export interface SubscriberCertificateInput {
  serial: string
  subscriberId: string
  displayName: string
  holder: HolderKind
  /** A passkey whose attestation PostCert verified (hardware-bound). */
  attested?: boolean
  spki: Buffer
  notBefore: Date
  notAfter: Date
}

/** Where relying parties find status and the issuer: all under PUBLIC_URL. */
export interface PkiUrls {
  crl: string
  ocsp: string
  caIssuers: string
}

/** `partition`: the CRL partition the certificate is listed on, if any (its distribution point then names that partition's CRL). */
export function pkiUrls(issuer: string, partition: number | null = null): PkiUrls {
  return { crl: crlUrl(issuer, partition), ocsp: `${issuer}/pki/ocsp`, caIssuers: `${issuer}/pki/issuing.cer` }
}

/** The complete CRL's URL, or a partition's: what a certificate's distribution point and that CRL's issuing distribution point both say. */
export function crlUrl(issuer: string, partition: number | null): string {
  return partition === null ? `${issuer}/pki/crl` : `${issuer}/pki/crl/${partition}`
}

/** The partition of a certificate: its serial (random) modulo the number of partitions; null without partitions. */
export function crlPartitionOf(serial: string, partitions: number): number | null {
  return partitions > 0 ? Number(BigInt(`0x${serial}`) % BigInt(partitions)) : null
}

/**
 * The subscriber certificate profile (RFC 5280): C=KR, CN=display name, serialNumber=a random
 * value of this certificate's own (32 hex digits: certificates are published with signatures, and
 * a subscriber id in them would link that person's certificates across institutions); end entity; digitalSignature + nonRepudiation (critical); key
 * identifiers; the policy of the holder's assurance level; CRL and OCSP locations.
 */
export async function buildSubscriberCertificate(input: SubscriberCertificateInput, ca: IssuingCa, urls: PkiUrls): Promise<x509.X509Certificate> {
  const publicKey = new x509.PublicKey(input.spki)
  const { signingKey, crypto } = webCryptoSigner(ca.signer)
  return await x509.X509CertificateGenerator.create({
    serialNumber: input.serial,
    subject: [{ '2.5.4.6': ['KR'] }, { '2.5.4.3': [input.displayName] }, { '2.5.4.5': [randomBytes(16).toString('hex')] }],
    issuer: ca.certificate.subject,
    notBefore: input.notBefore,
    notAfter: input.notAfter,
    publicKey,
    signingKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.nonRepudiation, true),
      await x509.SubjectKeyIdentifierExtension.create(publicKey, false, webcrypto),
      await x509.AuthorityKeyIdentifierExtension.create(ca.certificate.publicKey, false, webcrypto),
      new x509.CertificatePolicyExtension([input.holder === 'passkey' && !input.attested ? POLICY_OIDS.passkeyUnattested : POLICY_OIDS[input.holder]]),
      new x509.CRLDistributionPointsExtension([urls.crl]),
      new x509.AuthorityInfoAccessExtension({ ocsp: [urls.ocsp], caIssuers: [urls.caIssuers] }),
    ],
  }, crypto)
}
