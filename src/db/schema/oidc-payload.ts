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
}

export interface OidcPayloadSchema {
  oidc_payload: OidcPayloadTable
}
