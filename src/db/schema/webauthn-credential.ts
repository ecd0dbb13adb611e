import type { ColumnType } from 'kysely'

export interface WebauthnCredentialTable {
  /** base64url credential id */
  id: string
  subscriber_id: string
  certificate_serial: string
  /** COSE public key */
  public_key: Uint8Array
  counter: number
  /** JSON array of transports */
  transports: string
  created_at: Date
  /** The attestation statement format at registration ('none', 'packed', 'tpm', ...). */
  attestation_format: ColumnType<string, string | undefined, string>
  /** The authenticator model, when it said. */
  aaguid: ColumnType<string | null, string | null | undefined, string | null>
  /** The attestation chained to a trusted root (holders/webauthn/attestation.ts): hardware-bound, loa:high. */
  attested: ColumnType<boolean, boolean | undefined, boolean>
}

export interface WebauthnCredentialSchema {
  webauthn_credential: WebauthnCredentialTable
}
