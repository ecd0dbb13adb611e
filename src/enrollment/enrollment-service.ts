import { createHash, createHmac, randomBytes, type KeyObject } from 'node:crypto'
import type { Selectable } from 'kysely'
import type { AuditLog } from '../audit/audit-log.ts'
import { isInUse, type CertificateAuthority, type CertificateRecord, type IssueRequest } from '../ca/authority.ts'
import type { BoundHolder, HolderBinding } from '../holders/binding.ts'
import { isAttested } from '../holders/webauthn/credential-store.ts'
import type { PublicKeyCredentialCreationOptionsJSON } from '@simplewebauthn/server'
import type { Database, DatabaseTransaction } from '../db/database.ts'
import type { EnrollmentTable } from '../db/schema/enrollment.ts'
import { subscriberLabel, type Subscriber, type SubscriberStore } from '../subscribers/subscriber-store.ts'
import type { Clock } from '../util/clock.ts'
import type { RateLimiter } from '../util/rate-limiter.ts'
import {
  ENROLLMENTS_PER_IP_PER_HOUR, ENROLLMENT_TTL, IDENTITY_ATTEMPTS_PER_PHONE_VERIFICATION, IDENTITY_CHECKS_PER_DOCUMENT_PER_DAY, IDENTITY_CHECKS_PER_IP_PER_HOUR,
  IDENTITY_CHECKS_PER_PHONE_PER_DAY,
} from './constants.ts'
import { enrollmentExpired, identityAttemptsExhausted, identityNotVerified, stepNotAllowed, type EnrollmentError } from './errors.ts'
import { providerUnavailable, rateLimited } from '../errors/form-error.ts'
import { SMS_PER_IP_PER_HOUR } from '../phone/constants.ts'
import { invalidPhone } from '../phone/errors.ts'
import type { CodeCountdown, PhoneCodes } from '../phone/phone-codes.ts'
import { maskPhone, normalizeKoreanMobile } from '../phone/phone-number.ts'
import { parseIdentityForm, lastDigits } from './identity-form.ts'
import { IdentityProviderError, type IdentityVerifier } from './identity/identity-verifier.ts'

export type Enrollment = Selectable<EnrollmentTable>

export interface EnrollmentDeps {
  db: Database
  clock: Clock
  phoneCodes: PhoneCodes
  identity: IdentityVerifier
  limiter: RateLimiter
  authority: CertificateAuthority
  audit: AuditLog
  subscribers: SubscriberStore
  /** HMAC key of the connecting identifier; must never change. */
  ciKey: KeyObject
  /** Passkey options and checks, a certificate file's key: the new holder bound to the certificate. */
  binding: HolderBinding
}

/**
 * The issuance journey up to the holder step: phone, then identity document. State lives in the
 * database, keyed by the SHA-256 of a cookie token; each step checks it is the current one, so
 * steps cannot be skipped or replayed, and row locks make concurrent submissions safe.
 *
 * Throws EnrollmentError (see errors.ts) for everything the subscriber can fix or must wait for.
 */
export class EnrollmentService {
  readonly #deps: EnrollmentDeps

  constructor(deps: EnrollmentDeps) {
    this.#deps = deps
  }

  async start(ip: string): Promise<{ token: string; enrollment: Enrollment }> {
    await this.#limit(`enroll:ip:${ip}`, ENROLLMENTS_PER_IP_PER_HOUR)
    const token = randomBytes(32).toString('base64url')
    const now = this.#deps.clock.now()
    const enrollment = await this.#deps.db.insertInto('enrollment').values({
      id: tokenId(token), step: 'phone', phone_e164: null, phone_verified_at: null, subscriber_id: null, identity_verified_at: null, holder: null, certificate_serial: null, webauthn_challenge: null,
      created_at: now, expires_at: new Date(now.getTime() + ENROLLMENT_TTL * 1000),
    }).returningAll().executeTakeFirstOrThrow()
    return { token, enrollment }
  }

  /** The live enrollment behind a cookie token, or undefined. */
  async find(token: string | undefined): Promise<Enrollment | undefined> {
    if (!token || token.length > 100) return undefined
    return await this.#deps.db.selectFrom('enrollment').selectAll()
      .where('id', '=', tokenId(token)).where('expires_at', '>', this.#deps.clock.now())
      .executeTakeFirst()
  }

  /** Sends a code to the phone (again, after the resend interval; to another number, too). */
  async sendCode(enrollment: Enrollment, phoneInput: string, ip: string): Promise<Enrollment> {
    const phone = normalizeKoreanMobile(phoneInput)
    if (!phone) throw invalidPhone()
    // Still live and at the phone step, and not too soon after the last code: an impatient click
    // spends no budget. Then the address: a stranger's attempts stop there before they touch the
    // number's budget, which is enrollment's own (the portal's step-up has another).
    await this.#step(enrollment, 'phone', async () => {})
    await this.#deps.phoneCodes.checkResend('enroll', enrollment.id)
    await this.#limit(`sms:ip:${ip}`, SMS_PER_IP_PER_HOUR)
    await this.#deps.phoneCodes.send('enroll', enrollment.id, phone)
    // The number the code went to, for the page ("sent to …"); the verified one is the code's own.
    return await this.#step(enrollment, 'phone', async (trx, locked) =>
      await trx.updateTable('enrollment').set({ phone_e164: phone }).where('id', '=', locked.id).returningAll().executeTakeFirstOrThrow())
  }

  /** The number the last code was texted to, while the enrollment is at the phone step. */
  /** The code sent at the phone step, with its countdown; undefined when none was sent. */
  async codeSent(enrollment: Enrollment): Promise<CodeCountdown | undefined> {
    return enrollment.step === 'phone' ? await this.#deps.phoneCodes.countdown('enroll', enrollment.id) : undefined
  }

  async verifyCode(enrollment: Enrollment, codeInput: string): Promise<Enrollment> {
    if (enrollment.step !== 'phone') throw stepNotAllowed(enrollment.step)
    const now = this.#deps.clock.now()
    // The try is counted before the comparison; the code is spent in the step's transaction.
    return await this.#deps.phoneCodes.verify('enroll', enrollment.id, codeInput, async (trx, phone) => {
      const current = await this.#lock(trx, enrollment, 'phone')
      const updated = await trx.updateTable('enrollment')
        .set({ step: 'identity', phone_e164: phone, phone_verified_at: now })
        .where('id', '=', current.id).returningAll().executeTakeFirstOrThrow()
      await this.#deps.audit.record(trx, { type: 'enrollment.phone_verified', data: { phone: maskPhone(phone) } })
      return updated
    })
  }

  /**
   * Checks the identity document with the provider; the verified phone must be registered to the
   * same person. Finds or creates the subscriber by connecting identifier. Every failure gets the
   * same answer (identityNotVerified); each check is counted before the provider is asked: per
   * enrollment (then it starts again from the phone), per address, per phone and per document.
   */
  async verifyIdentity(enrollment: Enrollment, form: URLSearchParams, ip: string): Promise<{ enrollment: Enrollment; subscriber: Subscriber; validCertificates: CertificateRecord[] }> {
    if (enrollment.step !== 'identity') throw stepNotAllowed(enrollment.step)
    const document = parseIdentityForm(form, this.#deps.clock.now())
    await this.#limit(`identity:ip:${ip}`, IDENTITY_CHECKS_PER_IP_PER_HOUR)
    await this.#limit(`identity:phone:${enrollment.phone_e164}`, IDENTITY_CHECKS_PER_PHONE_PER_DAY, DAY_SECONDS)
    // The document number only as an HMAC: rate_limit keeps its keys.
    const documentKey = createHmac('sha256', this.#deps.ciKey).update(`identity-limit:${document.type}:${document.number}`).digest('base64url')
    await this.#limit(`identity:document:${documentKey}`, IDENTITY_CHECKS_PER_DOCUMENT_PER_DAY, DAY_SECONDS)
    const attempt = await this.#deps.db.updateTable('enrollment').set((eb) => ({ identity_attempts: eb('identity_attempts', '+', 1) }))
      .where('id', '=', enrollment.id).where('step', '=', 'identity').where('identity_attempts', '<', IDENTITY_ATTEMPTS_PER_PHONE_VERIFICATION)
      .returning('identity_attempts').executeTakeFirst() // primary key
    if (!attempt) throw await this.#backToPhone(enrollment)
    let result
    try {
      result = await this.#deps.identity.verify(document)
    } catch (err) {
      if (err instanceof IdentityProviderError) throw providerUnavailable()
      throw err
    }
    if (!result.verified || !enrollment.phone_e164 || !result.identity.phones.includes(enrollment.phone_e164)) {
      const left = IDENTITY_ATTEMPTS_PER_PHONE_VERIFICATION - attempt.identity_attempts
      throw left > 0 ? identityNotVerified(left) : await this.#backToPhone(enrollment)
    }

    const now = this.#deps.clock.now()
    const ci = createHmac('sha256', this.#deps.ciKey).update(result.identity.identityKey).digest('base64url')
    const { updated, subscriber } = await this.#step(enrollment, 'identity', async (trx, current) => {
      const subscriber = await this.#deps.subscribers.recordVerified(trx, {
        ci, name: result.identity.name, birthdate: result.identity.birthdate, phone_e164: current.phone_e164!,
        document_type: document.type, document_last_digits: lastDigits(document.number),
      })
      const updated = await trx.updateTable('enrollment')
        .set({ step: 'holder', subscriber_id: subscriber.id, identity_verified_at: now })
        .where('id', '=', current.id).returningAll().executeTakeFirstOrThrow()
      await this.#deps.audit.record(trx, { type: 'enrollment.identity_verified', subscriberId: subscriber.id, data: { document_type: document.type } })
      return { updated, subscriber }
    })
    return { enrollment: updated, subscriber, validCertificates: await this.validCertificates(subscriber.id) }
  }

  /** The subscriber's certificates in use now, suspended ones included: a new enrollment will reissue and revoke them. */
  async validCertificates(subscriberId: string): Promise<CertificateRecord[]> {
    const now = this.#deps.clock.now()
    return (await this.#deps.authority.listBySubscriber(subscriberId)).filter((c) => isInUse(c, now))
  }

  async subscriber(enrollment: Enrollment): Promise<Subscriber | undefined> {
    if (!enrollment.subscriber_id) return undefined
    return await this.#deps.subscribers.find(enrollment.subscriber_id)
  }

  async certificate(enrollment: Enrollment): Promise<CertificateRecord | undefined> {
    return enrollment.certificate_serial ? await this.#deps.authority.find(enrollment.certificate_serial) : undefined
  }

  /** Whether the passkey of this certificate was attested (its level is high). */
  async attested(serial: string): Promise<boolean> {
    return await isAttested(this.#deps.db, serial)
  }

  /** A fresh proof-of-possession challenge for the holder step. */
  async holderChallenge(enrollment: Enrollment): Promise<Buffer> {
    if (enrollment.step !== 'holder') throw stepNotAllowed(enrollment.step)
    return await this.#deps.authority.createChallenge()
  }

  /**
   * Issues the certificate to a key the browser made for the certificate file holder, after the
   * key signed the challenge. Certificates in use are revoked (reissue). The enrollment completes
   * in the issuance transaction: a second submission issues nothing.
   */
  async completeWithFile(enrollment: Enrollment, input: { spki: Buffer; signature: Buffer; challenge: Buffer }): Promise<CertificateRecord> {
    return await this.#issueTo(enrollment, this.#deps.binding.file(input))
  }

  /** Passkey registration options, plus the CA challenge the new passkey will sign right after. */
  async passkeyOptions(enrollment: Enrollment): Promise<{ registration: PublicKeyCredentialCreationOptionsJSON; challenge: Buffer }> {
    if (enrollment.step !== 'holder') throw stepNotAllowed(enrollment.step)
    const subscriber = await this.subscriber(enrollment)
    if (!subscriber) throw stepNotAllowed(enrollment.step)
    return await this.#deps.binding.passkeyOptions({ id: subscriber.id, name: subscriber.name, label: subscriberLabel(subscriber) }, async (challenge) => {
      await this.#deps.db.updateTable('enrollment').set({ webauthn_challenge: challenge })
        .where('id', '=', enrollment.id).where('step', '=', 'holder').execute() // primary key
    })
  }

  /** Issues the certificate to a new passkey: registration, then an assertion over the CA challenge. */
  async completeWithPasskey(enrollment: Enrollment, input: { registration: unknown; assertion: unknown; challenge: Buffer }): Promise<CertificateRecord> {
    if (enrollment.step !== 'holder') throw stepNotAllowed(enrollment.step)
    return await this.#issueTo(enrollment, await this.#deps.binding.passkey(enrollment.webauthn_challenge, input))
  }

  async #issueTo(enrollment: Enrollment, bound: BoundHolder): Promise<CertificateRecord> {
    if (enrollment.step !== 'holder') throw stepNotAllowed(enrollment.step)
    const subscriber = await this.subscriber(enrollment)
    if (!subscriber) throw stepNotAllowed(enrollment.step)
    const request: IssueRequest = {
      subscriberId: subscriber.id, displayName: subscriber.name, ...bound,
      alsoInTransaction: async (trx, certificate) => {
        const done = await trx.updateTable('enrollment')
          .set({ step: 'done', holder: bound.holder, certificate_serial: certificate.serial, webauthn_challenge: null })
          .where('id', '=', enrollment.id).where('step', '=', 'holder').where('expires_at', '>', this.#deps.clock.now())
          .returning('id').executeTakeFirst()
        if (!done) throw stepNotAllowed('done')
        await bound.alsoInTransaction?.(trx, certificate)
      },
    }
    // Revokes what is in use, under the subscriber's row lock: enrollments completed at once leave one certificate.
    return (await this.#deps.authority.reissue(request)).certificate
  }

  /** Ends an enrollment the subscriber starts again: it expires now, and a code sent for it is withdrawn. */
  async abandon(enrollment: Enrollment): Promise<void> {
    await this.#deps.phoneCodes.withdraw('enroll', enrollment.id)
    await this.#deps.db.updateTable('enrollment').set({ expires_at: this.#deps.clock.now() }).where('id', '=', enrollment.id).execute() // primary key
  }

  /** Deletes enrollments that expired a day ago or more. */
  async sweep(): Promise<number> {
    const cutoff = new Date(this.#deps.clock.now().getTime() - 24 * 60 * 60 * 1000)
    const result = await this.#deps.db.deleteFrom('enrollment').where('expires_at', '<', cutoff).executeTakeFirst()
    return Number(result.numDeletedRows)
  }

  /** After the last identity attempt: the phone must be verified again (a new code) before more. */
  async #backToPhone(enrollment: Enrollment): Promise<EnrollmentError> {
    // A code texted meanwhile (a send racing the verification) does not survive the step back.
    await this.#deps.phoneCodes.withdraw('enroll', enrollment.id)
    await this.#deps.db.updateTable('enrollment')
      .set({ step: 'phone', phone_verified_at: null, identity_attempts: 0 })
      .where('id', '=', enrollment.id).where('step', '=', 'identity').execute() // primary key
    return identityAttemptsExhausted()
  }

  /** Runs `fn` on the locked enrollment row if it is still live and at `step`. */
  async #step<T>(enrollment: Enrollment, step: Enrollment['step'], fn: (trx: DatabaseTransaction, current: Enrollment) => Promise<T>): Promise<T> {
    return await this.#deps.db.transaction().execute(async (trx) => await fn(trx, await this.#lock(trx, enrollment, step)))
  }

  /** The enrollment row, locked, if it is still live and at `step`. */
  async #lock(trx: DatabaseTransaction, enrollment: Enrollment, step: Enrollment['step']): Promise<Enrollment> {
    const current = await trx.selectFrom('enrollment').selectAll().where('id', '=', enrollment.id).forUpdate().executeTakeFirst() // primary key
    if (!current || current.expires_at <= this.#deps.clock.now()) throw enrollmentExpired()
    if (current.step !== step) throw stepNotAllowed(current.step)
    return current
  }

  async #limit(key: string, limit: number, windowSeconds = 3600): Promise<void> {
    const decision = await this.#deps.limiter.hit(key, limit, windowSeconds)
    if (!decision.allowed) throw rateLimited(decision.retryAfterSeconds)
  }
}

const DAY_SECONDS = 24 * 60 * 60

export const tokenId = (token: string) => createHash('sha256').update(token).digest('base64url')
