import { createHmac, randomInt, timingSafeEqual, type KeyObject } from 'node:crypto'
import type { Database, DatabaseTransaction } from '../db/database.ts'
import type { PhoneCodePurpose } from '../db/schema/phone-code.ts'
import { providerUnavailable, rateLimited } from '../errors/form-error.ts'
import type { Clock } from '../util/clock.ts'
import type { RateLimiter } from '../util/rate-limiter.ts'
import { OTP_DIGITS, OTP_MAX_ATTEMPTS, OTP_RESEND_INTERVAL, OTP_TTL, SMS_PER_NUMBER_PER_HOUR } from './constants.ts'
import { codeExhausted, codeExpired, codeFormat, codeNotSent, codeWrong, resendTooSoon } from './errors.ts'
import { SmsDeliveryError, type SmsGateway } from './sms/sms-gateway.ts'

export type { PhoneCodePurpose }

/** What a typed code must be, once spaces and hyphens are gone. */
const CODE_SHAPE = new RegExp(`^\\d{${OTP_DIGITS}}$`)

/** The service's name in each language, as the texts open with it. */
export interface TextedServiceName {
  ko: string
  en: string
}

/** What each purpose's text says (Korean, then English). */
const TEXTS: Record<PhoneCodePurpose, (code: string, service: TextedServiceName) => string> = {
  enroll: (code, service) => `[${service.ko}] 인증번호 ${code} (3분 안에 입력). 누구에게도 알려주지 마세요. / Your ${service.en} code is ${code}. Never share it.`,
  portal: (code, service) => `[${service.ko}] 인증서 갱신 인증번호 ${code} (3분 안에 입력). 누구에게도 알려주지 마세요. / Your ${service.en} renewal code is ${code}. Never share it.`,
}

/** A sent code's clock: when it expires, and the seconds left until then and until a resend. */
export interface CodeCountdown {
  phone: string
  expiresAt: Date
  expiresIn: number
  resendIn: number
}

/**
 * The rate-limit key of the codes texted to a number for one purpose: enrollment (anyone may start
 * one, naming any number) and the portal's step-up (the subscriber, signed in) count apart, so
 * strangers enrolling with a number cannot use up what its owner needs to renew.
 */
export const smsBudget = (purpose: PhoneCodePurpose, phoneE164: string) => `sms:${purpose}:phone:${phoneE164}`

export interface PhoneCodeDeps {
  db: Database
  clock: Clock
  sms: SmsGateway
  limiter: RateLimiter
  /** Keys the stored hash of a code (a server secret, imported once: keys/sealed-box.ts says why). */
  key: KeyObject
  /** The name the texts give the service (the operator's, config `brand`). */
  service: TextedServiceName
}

/**
 * Phone codes, keyed by purpose and owner (an enrollment, a portal session), one pending code per
 * pair: enrollment's phone step and the portal's step-up (renewal, another device) both use this
 * one library, with one table (phone_code), one text per purpose, one hash and one concurrency
 * rule. This module alone writes the table.
 *
 * Throws FormError: rateLimited, providerUnavailable (sending); PhoneError: resendTooSoon (sending),
 * codeFormat, codeNotSent, codeExpired, codeWrong, codeExhausted (checking).
 */
export class PhoneCodes {
  readonly #deps: PhoneCodeDeps

  constructor(deps: PhoneCodeDeps) {
    this.#deps = deps
  }

  /**
   * Texts a new code to `phone`, replacing the owner's pending one (its tries start again). Not
   * within OTP_RESEND_INTERVAL of the last; counted against the number's budget for this purpose.
   * If the gateway fails the code is withdrawn and not counted, so the subscriber may ask again.
   */
  async send(purpose: PhoneCodePurpose, owner: string, phone: string): Promise<void> {
    const { db, clock, limiter } = this.#deps
    const now = clock.now()
    await this.checkResend(purpose, owner)
    const decision = await limiter.hit(smsBudget(purpose, phone), SMS_PER_NUMBER_PER_HOUR, 3600)
    if (!decision.allowed) throw rateLimited(decision.retryAfterSeconds)
    const code = String(randomInt(0, 10 ** OTP_DIGITS)).padStart(OTP_DIGITS, '0')
    const stored = { phone_e164: phone, hash: this.#hash(purpose, owner, phone, code), sent_at: now, expires_at: new Date(now.getTime() + OTP_TTL * 1000), attempts: 0, verified_at: null }
    // Two sends at once: the one whose row is older than the resend interval wins; the other is too soon.
    const written = await db.insertInto('phone_code').values({ purpose, owner, ...stored })
      .onConflict((oc) => oc.columns(['purpose', 'owner']).doUpdateSet(stored)
        .where('phone_code.sent_at', '<=', new Date(now.getTime() - OTP_RESEND_INTERVAL * 1000)))
      .returning('owner').executeTakeFirst() // phone_code_pkey
    if (!written) {
      await limiter.undo(smsBudget(purpose, phone), 3600)
      this.#assertResendAllowed(await this.pending(purpose, owner), now)
      throw resendTooSoon(OTP_RESEND_INTERVAL)
    }
    // Sent after the write (no transaction waits on the gateway).
    try {
      await this.#deps.sms.send(phone, TEXTS[purpose](code, this.#deps.service))
    } catch (err) {
      await this.withdraw(purpose, owner)
      await limiter.undo(smsBudget(purpose, phone), 3600) // not sent: not counted
      if (err instanceof SmsDeliveryError) throw providerUnavailable()
      throw err
    }
  }

  /** Throws resendTooSoon while the owner's last code is younger than OTP_RESEND_INTERVAL (callers check it before spending budgets of their own). */
  async checkResend(purpose: PhoneCodePurpose, owner: string): Promise<void> {
    this.#assertResendAllowed(await this.pending(purpose, owner), this.#deps.clock.now())
  }

  /** The owner's last code: where and when it was sent, and when it expires (spent, withdrawn or pending). */
  async pending(purpose: PhoneCodePurpose, owner: string): Promise<{ phone: string; sentAt: Date; expiresAt: Date } | undefined> {
    const row = await this.#deps.db.selectFrom('phone_code').select(['phone_e164', 'sent_at', 'expires_at'])
      .where('purpose', '=', purpose).where('owner', '=', owner).executeTakeFirst() // phone_code_pkey
    return row && { phone: row.phone_e164, sentAt: row.sent_at, expiresAt: row.expires_at }
  }

  /**
   * The owner's last code as the page counts it down: seconds until it expires and until another
   * may be sent (0 once past), from the server's clock; undefined when none was sent.
   */
  async countdown(purpose: PhoneCodePurpose, owner: string): Promise<CodeCountdown | undefined> {
    const code = await this.pending(purpose, owner)
    if (!code) return undefined
    const now = this.#deps.clock.now().getTime()
    const secondsUntil = (at: number) => Math.max(0, Math.ceil((at - now) / 1000))
    return {
      phone: code.phone, expiresAt: code.expiresAt,
      expiresIn: secondsUntil(code.expiresAt.getTime()), resendIn: secondsUntil(code.sentAt.getTime() + OTP_RESEND_INTERVAL * 1000),
    }
  }

  /**
   * Checks a typed code, the try counted first: parallel guesses each take a try of their own
   * before any comparison, so no more than OTP_MAX_ATTEMPTS are ever compared, however many
   * arrive at once. Then: not expired, and the hashes equal (constant time). The code is then
   * spent, in one transaction with `then` (what the verified phone moves on): of two right
   * answers at once, one spends it and the other gets codeNotSent.
   */
  async verify<T>(purpose: PhoneCodePurpose, owner: string, input: string, then: (trx: DatabaseTransaction, phone: string) => Promise<T>): Promise<T> {
    const { db, clock } = this.#deps
    const now = clock.now()
    // A typo is not a guess: what cannot be a code takes no try.
    const code = input.replace(/[\s-]/g, '')
    if (!CODE_SHAPE.test(code)) throw codeFormat()
    const counted = await db.updateTable('phone_code').set((eb) => ({ attempts: eb('attempts', '+', 1) }))
      .where('purpose', '=', purpose).where('owner', '=', owner).where('hash', 'is not', null).where('attempts', '<', OTP_MAX_ATTEMPTS)
      .returning(['hash', 'expires_at', 'attempts', 'phone_e164']).executeTakeFirst() // phone_code_pkey
    if (!counted) {
      const stored = await db.selectFrom('phone_code').select('hash').where('purpose', '=', purpose).where('owner', '=', owner).executeTakeFirst() // phone_code_pkey
      throw stored?.hash ? codeExhausted() : codeNotSent()
    }
    if (counted.expires_at <= now) throw codeExpired()
    const expected = Buffer.from(counted.hash!, 'hex')
    const matches = timingSafeEqual(expected, Buffer.from(this.#hash(purpose, owner, counted.phone_e164, code), 'hex'))
    if (!matches) throw counted.attempts >= OTP_MAX_ATTEMPTS ? codeExhausted() : codeWrong(OTP_MAX_ATTEMPTS - counted.attempts)
    return await db.transaction().execute(async (trx) => {
      const spent = await trx.updateTable('phone_code').set({ hash: null, verified_at: now })
        .where('purpose', '=', purpose).where('owner', '=', owner).where('hash', '=', counted.hash)
        .returning('phone_e164').executeTakeFirst() // phone_code_pkey
      if (!spent) throw codeNotSent()
      return await then(trx, spent.phone_e164)
    })
  }

  /** No code is pending for the owner any more (a failed send; a step that starts again). */
  async withdraw(purpose: PhoneCodePurpose, owner: string): Promise<void> {
    await this.#deps.db.deleteFrom('phone_code').where('purpose', '=', purpose).where('owner', '=', owner).execute() // phone_code_pkey
  }

  /** Deletes codes that expired (the background sweep); a resend is allowed by then. */
  async sweep(): Promise<number> {
    const result = await this.#deps.db.deleteFrom('phone_code').where('expires_at', '<=', this.#deps.clock.now()).executeTakeFirst() // phone_code_expires_idx
    return Number(result.numDeletedRows)
  }

  #assertResendAllowed(last: { sentAt: Date } | undefined, now: Date): void {
    if (!last) return
    const wait = OTP_RESEND_INTERVAL - Math.floor((now.getTime() - last.sentAt.getTime()) / 1000)
    if (wait > 0) throw resendTooSoon(wait)
  }

  /** The code bound to its purpose, owner and number: a code texted for one cannot serve another. */
  #hash(purpose: PhoneCodePurpose, owner: string, phone: string, code: string): string {
    return createHmac('sha256', this.#deps.key).update(`${purpose}:${owner}:${phone}:${code}`).digest('hex')
  }
}
