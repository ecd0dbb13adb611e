import type { ColumnType } from 'kysely'

export type PhoneCodePurpose = 'enroll' | 'portal'

/** A phone code texted for one purpose to one owner (an enrollment, a portal session): phone/phone-codes.ts. */
export interface PhoneCodeTable {
  purpose: PhoneCodePurpose
  /** The enrollment's or the portal session's id. */
  owner: string
  /** The number the code was texted to. */
  phone_e164: string
  /** HMAC of the code; null once spent (or withdrawn). */
  hash: string | null
  sent_at: Date
  expires_at: Date
  /** Tries counted so far (each before it is compared). */
  attempts: ColumnType<number, number | undefined, number>
  /** When a right answer spent it. */
  verified_at: Date | null
}

export interface PhoneCodeSchema {
  phone_code: PhoneCodeTable
}
