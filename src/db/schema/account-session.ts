import type { ColumnType } from 'kysely'

/** A signed-in session of the subscriber portal (/account). */
/** The otp_* columns are unused since 2026-12-06 (phone/phone-codes.ts); a later migration drops them. */
export interface AccountSessionTable {
  /** SHA-256 (base64url) of the cookie's token. */
  id: string
  subscriber_id: string
  certificate_serial: string
  created_at: Date
  expires_at: Date
  /** When this session proved the subscriber's phone (renewal needs it within minutes). */
  phone_verified_at: Date | null
  /** The registration challenge of a passkey being made for a renewal. */
  webauthn_challenge: string | null
  /** The uid of the PostCert (oidc-provider) session the sign-in made; the portal's logout ends it. */
  oidc_session_uid: ColumnType<string | null, string | null | undefined, string | null>
}

export interface AccountSessionSchema {
  account_session: AccountSessionTable
}
