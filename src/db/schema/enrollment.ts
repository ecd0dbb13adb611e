import type { Generated } from 'kysely'

export type EnrollmentStep = 'phone' | 'identity' | 'holder' | 'done'

/** The otp_* columns are unused since 2026-12-06 (phone/phone-codes.ts); a later migration drops them. */
export interface EnrollmentTable {
  /** SHA-256 of the cookie token. */
  id: string
  step: EnrollmentStep
  phone_e164: string | null
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

export interface EnrollmentSchema {
  enrollment: EnrollmentTable
}
