import { createHash, randomBytes } from 'node:crypto'
import type Provider from 'oidc-provider'
import type { Database } from '../db/database.ts'
import type { Clock } from '../util/clock.ts'

/** A portal session lasts this long from its login (seconds); the portal then asks for the certificate again. */
export const ACCOUNT_SESSION_SECONDS = 30 * 60

/** A signed-in session of the subscriber portal. */
export interface PortalSession {
  /** The row's id (the token's hash). */
  id: string
  subscriberId: string
  /** The certificate the portal login was made with. */
  certificateSerial: string
  expiresAt: Date
}

/** The step-up a portal session holds while it issues a certificate (account/issuance.ts): its phone verified, a passkey's challenge. */
export interface StepUpState {
  phone_verified_at: Date | null
  webauthn_challenge: string | null
}

const hash = (token: string) => createHash('sha256').update(token).digest('base64url')

/**
 * Ends the portal sessions signed in with these certificates, in the transaction of their status
 * change (certificate-logins.ts).
 */
export async function endPortalSessions(trx: Database, serials: string[]): Promise<number> {
  if (!serials.length) return 0
  const result = await trx.deleteFrom('account_session').where('certificate_serial', 'in', serials).executeTakeFirst() // account_session_certificate_idx
  return Number(result.numDeletedRows)
}

/**
 * Moves a portal session to the certificate that renewed the one it signed in with, in the
 * renewal's transaction: the key that renewed proved possession there, so the renewing
 * subscriber stays signed in while the old certificate's other sessions end.
 */
export async function movePortalSession(trx: Database, sessionId: string, serial: string): Promise<void> {
  await trx.updateTable('account_session').set({ certificate_serial: serial }).where('id', '=', sessionId).execute() // primary key
}

/**
 * The subscriber portal's sessions (account_session): made by a portal sign-in, found by the
 * cookie's token (kept only as its hash), ended by sign-out, by a status change of the certificate
 * they signed in with (certificate-logins.ts) or by expiry. A session also holds the step-up
 * of a certificate being issued from the portal (its phone verified, a passkey's challenge). This module alone writes the table.
 */
export class PortalSessions {
  readonly #deps: { db: Database; clock: Clock; provider: () => Provider }

  constructor(deps: { db: Database; clock: Clock; provider: () => Provider }) {
    this.#deps = deps
  }

  /**
   * A new session for a sign-in made with `certificateSerial` in the PostCert session
   * `oidcSessionUid`; returns the cookie's token (stored only as its hash).
   */
  async create(subscriberId: string, certificateSerial: string, oidcSessionUid: string): Promise<string> {
    const token = randomBytes(32).toString('base64url')
    const now = this.#deps.clock.now()
    await this.#deps.db.insertInto('account_session').values({
      id: hash(token), subscriber_id: subscriberId, certificate_serial: certificateSerial, oidc_session_uid: oidcSessionUid,
      created_at: now, expires_at: new Date(now.getTime() + ACCOUNT_SESSION_SECONDS * 1000),
      phone_verified_at: null, webauthn_challenge: null,
    }).execute()
    return token
  }

  /**
   * The live session behind a cookie token. A session lives only while the certificate it signed
   * in with is good and unexpired (a status change also deletes it: endPortalSessions).
   */
  async find(token: string | undefined): Promise<PortalSession | undefined> {
    if (!token) return undefined
    const now = this.#deps.clock.now()
    const row = await this.#deps.db.selectFrom('account_session')
      .innerJoin('certificate', 'certificate.serial', 'account_session.certificate_serial')
      .select(['account_session.id', 'account_session.subscriber_id', 'account_session.certificate_serial', 'account_session.expires_at'])
      .where('account_session.id', '=', hash(token)).where('account_session.expires_at', '>', now) // primary keys
      .where('certificate.status', '=', 'good').where('certificate.not_after', '>', now)
      .executeTakeFirst()
    return row ? { id: row.id, subscriberId: row.subscriber_id, certificateSerial: row.certificate_serial, expiresAt: row.expires_at } : undefined
  }

  /** Signs out of the portal, and out of the PostCert session the sign-in made (the next visit proves possession again). */
  async end(token: string | undefined): Promise<void> {
    if (!token) return
    const ended = await this.#deps.db.deleteFrom('account_session').where('id', '=', hash(token)).returning('oidc_session_uid').executeTakeFirst()
    if (!ended?.oidc_session_uid) return
    const session = await this.#deps.provider().Session.findByUid(ended.oidc_session_uid)
    await session?.destroy()
  }

  /** Deletes expired sessions (the background sweep). */
  async sweep(): Promise<number> {
    const result = await this.#deps.db.deleteFrom('account_session').where('expires_at', '<=', this.#deps.clock.now()).executeTakeFirst() // account_session_expires_idx
    return Number(result.numDeletedRows)
  }

  /** The session's step-up state. */
  async stepUp(session: PortalSession): Promise<StepUpState> {
    return await this.#deps.db.selectFrom('account_session')
      .select(['phone_verified_at', 'webauthn_challenge'])
      .where('id', '=', session.id).executeTakeFirstOrThrow() // primary key
  }

  /** The phone code sent for this session was verified (phone/phone-codes.ts), in its spending transaction. */
  async phoneVerified(trx: Database, session: PortalSession, at: Date): Promise<void> {
    await trx.updateTable('account_session').set({ phone_verified_at: at }).where('id', '=', session.id).execute() // primary key
  }

  /** A new phone code is on its way: the phone verified before it no longer counts. */
  async phoneUnverified(session: PortalSession): Promise<void> {
    await this.#deps.db.updateTable('account_session').set({ phone_verified_at: null }).where('id', '=', session.id).execute() // primary key
  }

  /** The registration challenge of the passkey being made. */
  async setPasskeyChallenge(session: PortalSession, challenge: string): Promise<void> {
    await this.#deps.db.updateTable('account_session').set({ webauthn_challenge: challenge }).where('id', '=', session.id).execute() // primary key
  }

  /** A certificate was issued: the step-up is spent (the next issuance verifies the phone again). */
  async endStepUp(session: PortalSession): Promise<void> {
    await this.#deps.db.updateTable('account_session').set({ phone_verified_at: null, webauthn_challenge: null }).where('id', '=', session.id).execute() // primary key
  }
}
