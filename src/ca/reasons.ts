import { x509 } from './x509.ts'

/** Stored reason names -> RFC 5280 CRLReason codes (used by CRL entries and OCSP). */
export const REASON_CODES: Record<string, x509.X509CrlReason> = {
  unspecified: x509.X509CrlReason.unspecified,
  keyCompromise: x509.X509CrlReason.keyCompromise,
  affiliationChanged: x509.X509CrlReason.affiliationChanged,
  superseded: x509.X509CrlReason.superseded,
  cessationOfOperation: x509.X509CrlReason.cessationOfOperation,
  certificateHold: x509.X509CrlReason.certificateHold,
  privilegeWithdrawn: x509.X509CrlReason.privilegeWithdrawn,
}

export function reasonCode(reason: string | null): x509.X509CrlReason {
  return REASON_CODES[reason ?? 'unspecified'] ?? x509.X509CrlReason.unspecified
}
