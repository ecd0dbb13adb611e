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

/**
 * The rate-limit key of the codes texted to a number for one purpose: enrollment (anyone may start
 * one, naming any number) and the portal's step-up (the subscriber, signed in) count apart, so
 * strangers enrolling with a number cannot use up what its owner needs to renew.
 */
export const smsBudget = (purpose: 'enroll' | 'portal', phoneE164: string) => `sms:${purpose}:phone:${phoneE164}`

/** Throws resendTooSoon while the last code is younger than OTP_RESEND_INTERVAL. */
export function assertResendAllowed(sentAt: Date | null, now: Date): void {
  if (!sentAt) return
  const wait = OTP_RESEND_INTERVAL - Math.floor((now.getTime() - sentAt.getTime()) / 1000)
  if (wait > 0) throw resendTooSoon(wait)
}

/** A pending code as stored: its hash, expiry and tries so far. */
export interface StoredPhoneCode {
  hash: string | null
  expiresAt: Date | null
  attempts: number
}

/**
 * Where a code is kept (an enrollment, a portal session). `countTry` adds one try in a single
 * statement, only while a code is pending and fewer than OTP_MAX_ATTEMPTS tries were counted,
 * and returns the code as it stands after it (undefined when it took no try); `current` reads it.
 */
export interface PhoneCodeStore<T extends StoredPhoneCode> {
  countTry(): Promise<T | undefined>
  current(): Promise<StoredPhoneCode | undefined>
}

/**
 * Checks a typed code, the try counted first: parallel guesses each take a try of their own
 * before any comparison, so no more than OTP_MAX_ATTEMPTS are ever compared, however many
 * arrive at once. Then: not expired, and the hashes equal (constant time). Returns the stored
 * code that matched (the caller spends it conditionally on its hash). Throws codeNotSent,
 * codeExhausted, codeExpired, or codeWrong with the tries left.
 */
export async function checkPhoneCode<T extends StoredPhoneCode>(store: PhoneCodeStore<T>, input: string, hashOf: (code: string, stored: T) => string, now: Date): Promise<T> {
  const counted = await store.countTry()
  if (!counted) {
    const stored = await store.current()
    if (!stored?.hash || !stored.expiresAt) throw codeNotSent()
    throw codeExhausted()
  }
  if (!counted.hash || !counted.expiresAt) throw codeNotSent()
  if (counted.expiresAt <= now) throw codeExpired()
  const code = input.replace(/\s/g, '')
  const matches = /^\d+$/.test(code) && timingSafeEqual(Buffer.from(counted.hash, 'hex'), Buffer.from(hashOf(code, counted), 'hex'))
  if (!matches) throw counted.attempts >= OTP_MAX_ATTEMPTS ? codeExhausted() : codeWrong(OTP_MAX_ATTEMPTS - counted.attempts)
  return counted
}
