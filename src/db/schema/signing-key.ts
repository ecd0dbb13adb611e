import type { ColumnType } from 'kysely'

export type SigningKeyState = 'next' | 'active' | 'retired'
export type SigningKeyType = 'EC' | 'RSA'

/** OIDC signing keys. Each key type has one active and one pre-published next key. */
export interface SigningKeyTable {
  kid: string
  kty: SigningKeyType
  state: SigningKeyState
  /** The private JWK, sealed with the master key. */
  sealed_jwk: string
  created_at: ColumnType<Date, Date | undefined, never>
  activated_at: Date | null
  retired_at: Date | null
  /** Retired keys stay in the JWKS until this time (what they signed has expired by then). */
  publish_until: Date | null
}

export interface SigningKeySchema {
  signing_key: SigningKeyTable
}
