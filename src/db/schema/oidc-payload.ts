import type { ColumnType } from 'kysely'

/** One row per oidc-provider model instance (tokens, sessions, grants, clients, ...). */
export interface OidcPayloadTable {
  model: string
  /** SHA-256 of the instance id for bearer-secret models (see oidc/adapter.ts); the client_id for Client. */
  id: string
  /** JSON text. */
  payload: string
  grant_id: string | null
  uid: string | null
  user_code: string | null
  /** The plain id, sealed with the master key, for models looked up by uid or user code. */
  sealed_id: string | null
  expires_at: Date | null
  consumed_at: Date | null
  /**
   * The certificate of the login behind a session, an interaction after a login, a code or a
   * token; '' when that login is unknown or ended (no certificate matches); null for the rest.
   */
  certificate_serial: ColumnType<string | null, string | null | undefined, string | null>
}

export interface OidcPayloadSchema {
  oidc_payload: OidcPayloadTable
}
