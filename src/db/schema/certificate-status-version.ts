import type { ColumnType } from 'kysely'

/** One row: moved by every certificate status change (the CRL is current at the version it was built at). */
export interface CertificateStatusVersionTable {
  id: number
  version: ColumnType<string, string | number, string | number>
}

export interface CertificateStatusVersionSchema {
  certificate_status_version: CertificateStatusVersionTable
}
