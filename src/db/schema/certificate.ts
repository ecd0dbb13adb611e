import type { ColumnType } from 'kysely'

export type CertificateStatus = 'good' | 'revoked' | 'hold'
export type HolderKind = 'passkey' | 'file'

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
  /** The CRL partition named in the certificate's distribution point; null: the complete CRL. */
  crl_partition: number | null
  /** The status version (certificate_status_version) its last status change moved to; null: never changed. */
  status_version: ColumnType<string | null, string | null | undefined, string | null>
  created_at: ColumnType<Date, Date | undefined, never>
}

export interface CertificateSchema {
  certificate: CertificateTable
}
