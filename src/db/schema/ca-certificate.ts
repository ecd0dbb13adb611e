import type { ColumnType } from 'kysely'

export type CaRole = 'root' | 'issuing'

export interface CaCertificateTable {
  id: string
  role: CaRole
  der: Uint8Array
  /** PKCS#8 private key sealed with the master key; null for a root kept offline or a key on a token. */
  sealed_key: string | null
  /** The CKA_LABEL of the key on the PKCS#11 token (PKCS11_*), when the key is there. */
  token_key_label: ColumnType<string | null, string | null | undefined, string | null>
  subject: string
  not_before: Date
  not_after: Date
  active: boolean
  created_at: ColumnType<Date, Date | undefined, never>
}

export interface CaCertificateSchema {
  ca_certificate: CaCertificateTable
}
