import type { AuditLog } from '../audit/audit-log.ts'
import { isInUse, type CertificateAuthority, type CertificateRecord } from '../ca/authority.ts'
import { MAX_CERTIFICATES_IN_USE } from '../ca/constants.ts'
import { certificateLimit, certificateState, renewalNotAllowed } from '../ca/errors.ts'
import type { Database } from '../db/database.ts'
import type { CodeCountdown, PhoneCodes } from '../phone/phone-codes.ts'
import { notFound } from '../errors/errors.ts'
import { phoneNotVerified } from '../phone/errors.ts'
import type { HolderBinding } from '../holders/binding.ts'
import type { Clock } from '../util/clock.ts'
import { movePortalSession, type PortalSession, type PortalSessions } from '../sessions/portal-sessions.ts'
import { subscriberLabel } from '../subscribers/subscriber-store.ts'

/** How long a verified phone code lets the session make one new key (seconds). */
export const PHONE_STEP_UP_SECONDS = 10 * 60

/** What the portal issues: a renewal of one certificate, or one more certificate (another device). */
export type IssuanceTarget = { kind: 'renew'; serial: string } | { kind: 'add' }

export type IssuanceState =
  /** `code`: the phone code sent for this step, with its countdown, until the phone is verified. */
  | { kind: 'open'; certificate?: CertificateRecord; closesAt?: Date; phoneVerified: boolean; phone: string; code?: CodeCountdown }
  | { kind: 'not_yet'; certificate: CertificateRecord; opensAt: Date }
  | { kind: 'over'; certificate?: CertificateRecord; why: 'expired' | 'revoked' | 'suspended' | 'limit' }

export interface RenewalDeps {
  db: Database
  clock: Clock
  authority: CertificateAuthority
  phoneCodes: PhoneCodes
  audit: AuditLog
  /** Passkey options and checks, a certificate file's key: the new holder bound to the certificate. */
  binding: HolderBinding
  sessions: PortalSessions
}

/**
 * New keys from the portal. The subscriber signed in with a certificate (a fresh proof,
 * prompt=login), confirms a code sent to their phone, and makes a new key, which proves
 * possession over a CA challenge. Then either:
 * - renewal (갱신): the CA issues the new certificate for one more period past the old expiry and
 *   revokes the old one as superseded, in one transaction; only inside the renewal window
 *   (before it the subscriber is told when it opens, after expiry to reissue);
 * - another certificate (a passkey on the phone beside a file on the PC), up to
 *   MAX_CERTIFICATES_IN_USE.
 */
export class AccountIssuance {
  readonly #deps: RenewalDeps

  constructor(deps: RenewalDeps) {
    this.#deps = deps
  }

  /** Where the target stands for the session's subscriber. */
  async state(session: PortalSession, target: IssuanceTarget): Promise<IssuanceState> {
    const now = this.#deps.clock.now()
    if (target.kind === 'add') {
      const inUse = (await this.#deps.authority.listBySubscriber(session.subscriberId)).filter((c) => isInUse(c, now))
      if (inUse.length >= MAX_CERTIFICATES_IN_USE) return { kind: 'over', why: 'limit' }
      return { kind: 'open', ...await this.#phoneStep(session), phone: await this.#phone(session) }
    }
    const certificate = await this.#own(session, target.serial)
    if (certificate.status === 'revoked') return { kind: 'over', certificate, why: 'revoked' }
    if (certificate.status === 'hold') return { kind: 'over', certificate, why: 'suspended' }
    if (certificate.notAfter <= now) return { kind: 'over', certificate, why: 'expired' }
    const { opensAt, closesAt } = this.#deps.authority.renewalWindow(certificate)
    if (now < opensAt) return { kind: 'not_yet', certificate, opensAt }
    return { kind: 'open', certificate, closesAt, ...await this.#phoneStep(session), phone: await this.#phone(session) }
  }

  /** Whether the phone is verified, and if not, the code sent for it (with its countdown). */
  async #phoneStep(session: PortalSession): Promise<{ phoneVerified: boolean; code?: CodeCountdown }> {
    if (await this.#phoneVerified(session)) return { phoneVerified: true }
    const code = await this.#deps.phoneCodes.countdown('portal', session.id)
    return code ? { phoneVerified: false, code } : { phoneVerified: false }
  }

  async #phoneVerified(session: PortalSession): Promise<boolean> {
    const row = await this.#session(session)
    return row.phone_verified_at !== null && this.#deps.clock.now().getTime() - row.phone_verified_at.getTime() < PHONE_STEP_UP_SECONDS * 1000
  }

  /** Sends a code to the subscriber's phone on file (never to a number the request names). */
  async sendCode(session: PortalSession, target: IssuanceTarget): Promise<void> {
    await this.#open(session, target)
    await this.#deps.phoneCodes.checkResend('portal', session.id)
    // A new code means a new proof: the phone verified before it no longer counts.
    await this.#deps.sessions.phoneUnverified(session)
    // The portal's own budget: anonymous enrollments naming this number cannot spend it.
    await this.#deps.phoneCodes.send('portal', session.id, await this.#phone(session))
  }

  /** Checks the code: five tries, three minutes, compared in constant time, each try counted before it is compared. */
  async verifyCode(session: PortalSession, target: IssuanceTarget, input: string): Promise<void> {
    await this.#open(session, target)
    const now = this.#deps.clock.now()
    // Spent once: of two right answers at once, one verifies the phone.
    await this.#deps.phoneCodes.verify('portal', session.id, input, async (trx) => {
      await this.#deps.sessions.phoneVerified(trx, session, now)
    })
  }

  /** A proof-of-possession challenge for the new key. */
  async challenge(session: PortalSession, target: IssuanceTarget): Promise<Buffer> {
    await this.#ready(session, target)
    return await this.#deps.authority.createChallenge()
  }

  /** A certificate for a certificate-file key the browser made, which signed the challenge. */
  async withFile(session: PortalSession, target: IssuanceTarget, input: { spki: Buffer; signature: Buffer; challenge: Buffer }): Promise<CertificateRecord> {
    const old = await this.#ready(session, target)
    return await this.#issue(session, old, this.#deps.binding.file(input))
  }

  /** Passkey registration options for the new key, and the CA challenge it signs next. */
  async passkeyOptions(session: PortalSession, target: IssuanceTarget) {
    await this.#ready(session, target)
    const subscriber = await this.#subscriber(session)
    const holder = { id: session.subscriberId, name: subscriber.name, label: subscriberLabel(subscriber) }
    return await this.#deps.binding.passkeyOptions(holder, (challenge) => this.#deps.sessions.setPasskeyChallenge(session, challenge))
  }

  /** A certificate for a new passkey: its registration, then its assertion over the CA challenge. */
  async withPasskey(session: PortalSession, target: IssuanceTarget, input: { registration: unknown; assertion: unknown; challenge: Buffer }): Promise<CertificateRecord> {
    const old = await this.#ready(session, target)
    const row = await this.#session(session)
    return await this.#issue(session, old, await this.#deps.binding.passkey(row.webauthn_challenge, input))
  }

  /** The subscriber's name, as the certificate file script stores it with the certificate. */
  async subscriberName(session: PortalSession): Promise<string> {
    return (await this.#subscriber(session)).name
  }

  /** Renews `old`, or (none) adds a certificate; one phone code serves one of them. */
  async #issue(session: PortalSession, old: CertificateRecord | undefined, request: Omit<Parameters<CertificateAuthority['renew']>[0], 'serial'>): Promise<CertificateRecord> {
    const { authority } = this.#deps
    // The renewing session signed in with the old certificate, which ends with the renewal: it
    // stays signed in with the new one, whose key just proved possession (movePortalSession).
    const renewing = old?.serial === session.certificateSerial
    const issued = old ? await authority.renew({
      serial: old.serial, ...request,
      alsoInTransaction: async (trx, certificate) => {
        await request.alsoInTransaction?.(trx, certificate)
        if (renewing) await movePortalSession(trx, session.id, certificate.serial)
      },
    })
      : await authority.add({ subscriberId: session.subscriberId, displayName: await this.subscriberName(session), holder: request.holder ?? 'file', attested: request.attested, spki: request.spki, proof: request.proof, alsoInTransaction: request.alsoInTransaction })
    await this.#deps.sessions.endStepUp(session)
    return issued
  }

  /** The certificate to renew (none for another certificate), for a session whose phone code is fresh. */
  async #ready(session: PortalSession, target: IssuanceTarget): Promise<CertificateRecord | undefined> {
    const state = await this.#open(session, target)
    if (!state.phoneVerified) throw phoneNotVerified()
    return state.certificate
  }

  async #open(session: PortalSession, target: IssuanceTarget): Promise<Extract<IssuanceState, { kind: 'open' }>> {
    const state = await this.state(session, target)
    if (state.kind === 'open') return state
    if (state.kind === 'over' && state.why === 'limit') throw certificateLimit(MAX_CERTIFICATES_IN_USE)
    if (state.kind === 'not_yet') throw renewalNotAllowed(`renewal of this certificate opens on ${state.opensAt.toISOString().slice(0, 10)}`, state.opensAt)
    if (state.why === 'expired') throw renewalNotAllowed('this certificate has expired: get a new one at /enroll')
    throw certificateState(`this certificate is ${state.why}: it cannot be renewed`)
  }

  async #own(session: PortalSession, serial: string): Promise<CertificateRecord> {
    const certificate = await this.#deps.authority.find(serial)
    if (!certificate || certificate.subscriberId !== session.subscriberId) throw notFound('no such certificate among yours')
    return certificate
  }

  async #session(session: PortalSession) {
    return await this.#deps.sessions.stepUp(session)
  }

  async #phone(session: PortalSession): Promise<string> {
    return (await this.#subscriber(session)).phone_e164
  }

  /** The signed-in subscriber's name and phone on file, in one read (primary key). */
  async #subscriber(session: PortalSession): Promise<{ name: string; phone_e164: string }> {
    return await this.#deps.db.selectFrom('subscriber').select(['name', 'phone_e164']).where('id', '=', session.subscriberId).executeTakeFirstOrThrow()
  }
}
