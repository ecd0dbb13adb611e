import { randomInt, timingSafeEqual } from 'node:crypto'
import { OTP_DIGITS, OTP_MAX_ATTEMPTS, OTP_RESEND_INTERVAL } from './constants.ts'
import { codeExhausted, codeExpired, codeNotSent, codeWrong, resendTooSoon } from './errors.ts'

/**
 * Phone codes, as enrollment and the portal's step-up (renewal, another device) use them. Each
 * keeps its own stored state (hash, expiry, tries) beside what the code proves.
 */

/** A new code of OTP_DIGITS random digits. */
export function newPhoneCode(): string {
  return String(randomInt(0, 10 ** OTP_DIGITS)).padStart(OTP_DIGITS, '0')
}

/** Throws resendTooSoon while the last code is younger than OTP_RESEND_INTERVAL. */
export function assertResendAllowed(sentAt: Date | null, now: Date): void {
  if (!sentAt) return
  const wait = OTP_RESEND_INTERVAL - Math.floor((now.getTime() - sentAt.getTime()) / 1000)
  if (wait > 0) throw resendTooSoon(wait)
}

/**
 * Checks a typed code against the stored one: a code was sent, tries are left, it has not
 * expired; then the hashes are compared in constant time. Throws codeNotSent, codeExhausted or
 * codeExpired; returns whether the code matched (the caller counts a wrong try).
 */
export function phoneCodeMatches(stored: { hash: string | null; expiresAt: Date | null; attempts: number }, input: string, hashOf: (code: string) => string, now: Date): boolean {
  if (!stored.hash || !stored.expiresAt) throw codeNotSent()
  if (stored.attempts >= OTP_MAX_ATTEMPTS) throw codeExhausted()
  if (stored.expiresAt <= now) throw codeExpired()
  const code = input.replace(/\s/g, '')
  if (!/^\d+$/.test(code)) return false
  return timingSafeEqual(Buffer.from(stored.hash, 'hex'), Buffer.from(hashOf(code), 'hex'))
}

/** The refusal after the `attempts`-th wrong try. */
export const wrongCode = (attempts: number) => (attempts >= OTP_MAX_ATTEMPTS ? codeExhausted() : codeWrong(OTP_MAX_ATTEMPTS - attempts))
