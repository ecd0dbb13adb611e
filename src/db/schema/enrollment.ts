import type { ColumnType, Generated } from 'kysely'

export type EnrollmentStep = 'phone' | 'identity' | 'holder' | 'done'
export type DocumentType = 'resident_card' | 'driver_licence' | 'passport'

export interface SubscriberTable {
  id: string
  /** Connecting identifier: HMAC of the verified identity under a server secret. */
  ci: string
  name: string
  /** YYYY-MM-DD */
  birthdate: string
  phone_e164: string
  document_type: DocumentType
  document_last_digits: string
  created_at: Date
  updated_at: Date
}

export interface EnrollmentTable {
  /** SHA-256 of the cookie token. */
  id: string
  step: EnrollmentStep
  phone_e164: string | null
  otp_hash: string | null
  otp_expires_at: Date | null
  otp_attempts: Generated<number>
  otp_sent_at: Date | null
  phone_verified_at: Date | null
  subscriber_id: string | null
  identity_verified_at: Date | null
  /** Identity checks made since the phone was verified (IDENTITY_ATTEMPTS_PER_PHONE_VERIFICATION at most). */
  identity_attempts: Generated<number>
  holder: 'passkey' | 'file' | null
  certificate_serial: string | null
  webauthn_challenge: string | null
  created_at: Date
  expires_at: Date
}

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

export interface RateLimitTable {
  key: string
  window_start: Date
  count: number
}

export interface SandboxSmsTable {
  id: Generated<number>
  to_e164: string
  body: string
  sent_at: Date
  /** The sender's idempotency key, when it gave one (a message sent twice is kept once). */
  idempotency_key: ColumnType<string | null, string | null | undefined, string | null>
}

export interface LoginChallengeTable {
  hash: string
  interaction_uid: string
  expires_at: Date
}

export interface RegistrationTable {
  subscriber_id: string
  client_id: string
  grant_id: string
  created_at: Date
  updated_at: Date
}

/** The certificate an oidc-provider session logged in with (see migrations/…login-session). */
export interface LoginSessionTable {
  session_uid: string
  /** The login's auth_time (seconds since the epoch), as in the ID token. */
  auth_time: ColumnType<string, number, number>
  certificate_serial: string
  expires_at: Date
  /** The institution the login proved possession for (null for logins before 2026-12-06). */
  client_id: ColumnType<string | null, string | null | undefined, string | null>
  /** When a status change of the certificate ended this login. */
  ended_at: ColumnType<Date | null, Date | null | undefined, Date | null>
}

export interface EnrollmentSchema {
  login_challenge: LoginChallengeTable
  login_session: LoginSessionTable
  registration: RegistrationTable
  subscriber: SubscriberTable
  enrollment: EnrollmentTable
  webauthn_credential: WebauthnCredentialTable
  rate_limit: RateLimitTable
  sandbox_sms: SandboxSmsTable
}
