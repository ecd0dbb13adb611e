export interface SignatureTable {
  /** `sig_` and 22 base64url characters. */
  id: string
  client_id: string
  subscriber_id: string
  certificate_serial: string
  holder: 'file' | 'passkey'
  /** JSON text: the authorization detail as requested. */
  request: string
  /** The signed bytes (canonical JSON). */
  payload: string
  /** base64url. */
  payload_sha256: string
  /** JSON text: { format, ... }. */
  signature: string
  /** DER OCSP response at signing time. */
  ocsp: Buffer
  /** Compact JWS by PostCert's OIDC key. */
  receipt: string
  signed_at: Date
}

export interface SignatureSchema {
  signature: SignatureTable
}
