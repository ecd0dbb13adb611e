import type { ColumnType, Generated } from 'kysely'

export type CaRole = 'root' | 'issuing'
export type CertificateStatus = 'good' | 'revoked' | 'hold'
export type HolderKind = 'passkey' | 'file'

export interface CaCertificateTable {
  id: string
  role: CaRole
  der: Uint8Array
  /** PKCS#8 private key sealed with the master key; null for a root kept offline. */
  sealed_key: string | null
  subject: string
  not_before: Date
  not_after: Date
  active: boolean
  created_at: ColumnType<Date, Date | undefined, never>
}

export interface CertificateTable {
  serial: string
  subscriber_id: string
  holder: HolderKind
  issuer_id: string
  der: Uint8Array
  subject: string
  /** base64url SHA-256 of the subject public key info (the x5t#S256 of the key, not the cert). */
  spki_sha256: string
  not_before: Date
  not_after: Date
  status: CertificateStatus
  revoked_at: Date | null
  revocation_reason: string | null
  /** The serial of the certificate that superseded this one (renewal or reissue). */
  replaced_by: string | null
  status_changed_at: Date | null
  created_at: ColumnType<Date, Date | undefined, never>
}

export interface CaChallengeTable {
  hash: string
  expires_at: Date
}

export interface CrlTable {
  issuer_id: string
  number: number
  der: Uint8Array
  this_update: Date
  next_update: Date
  status_version: string
}

/** One row: moved by every certificate status change (the CRL is current at the version it was built at). */
export interface CertificateStatusVersionTable {
  id: number
  version: ColumnType<string, string | number, string | number>
}

export interface AuditEventTable {
  id: Generated<number>
  occurred_at: Date
  type: string
  subscriber_id: string | null
  certificate_serial: string | null
  /** JSON text. */
  data: string
}

export interface CaSchema {
  ca_certificate: CaCertificateTable
  certificate: CertificateTable
  ca_challenge: CaChallengeTable
  crl: CrlTable
  certificate_status_version: CertificateStatusVersionTable
  audit_event: AuditEventTable
}
