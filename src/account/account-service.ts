import { createHash, randomBytes } from 'node:crypto'
import type Provider from 'oidc-provider'
import type { AuditLog } from '../audit/audit-log.ts'
import { isInUse, type CertificateAuthority, type CertificateRecord } from '../ca/authority.ts'
import type { Database } from '../db/database.ts'
import { NotFoundError } from '../errors/errors.ts'
import { ACR_HIGH, assuranceOf } from '../login/assurance.ts'
import type { LogoutNotice, LogoutNotices } from '../oidc/logout-notices.ts'
import type { Clock } from '../util/clock.ts'

/** A portal session lasts this long from its login (seconds); the portal then asks for the certificate again. */
export const ACCOUNT_SESSION_SECONDS = 30 * 60
/** Activity entries per page. */
export const ACTIVITY_PAGE_SIZE = 20

export interface AccountSession {
  /** The row's id (the token's hash). */
  id: string
  subscriberId: string
  /** The certificate the portal login was made with. */
  certificateSerial: string
  expiresAt: Date
}

export interface CertificateOverview extends CertificateRecord {
  /** Counts towards MAX_CERTIFICATES_IN_USE (isInUse). */
  inUse: boolean
  /** The assurance level a login with it gives (an attested passkey: high). */
  level: 'high' | 'substantial'
  daysLeft: number
  lastUsedAt: Date | null
}

export interface Institution {
  clientId: string
  name: string
  registeredAt: Date
  scopes: string[]
  claims: string[]
}

export interface ActivityEntry {
  id: number
  at: Date
  type: string
  clientId?: string
  serial?: string
  ip?: string
  device?: string
}

export interface AccountDeps {
  db: Database
  clock: Clock
  authority: CertificateAuthority
  audit: AuditLog
  provider: () => Provider
  /** Back-channel logouts owed to institutions (oidc/logout-notices.ts). */
  notices: LogoutNotices
}

const hash = (token: string) => createHash('sha256').update(token).digest('base64url')

/**
 * Ends the portal sessions signed in with these certificates, in the transaction of their status
 * change (login/certificate-logins.ts).
 */
export async function endAccountSessions(trx: Database, serials: string[]): Promise<number> {
  if (!serials.length) return 0
  const result = await trx.deleteFrom('account_session').where('certificate_serial', 'in', serials).executeTakeFirst() // account_session_certificate_idx
  return Number(result.numDeletedRows)
}

/**
 * Moves a portal session to the certificate that renewed the one it signed in with, in the
 * renewal's transaction: the key that renewed proved possession there, so the renewing
 * subscriber stays signed in while the old certificate's other sessions end.
 */
export async function moveAccountSession(trx: Database, sessionId: string, serial: string): Promise<void> {
  await trx.updateTable('account_session').set({ certificate_serial: serial }).where('id', '=', sessionId).execute() // primary key
}

/**
 * The subscriber portal's data: its sessions, the subscriber's certificates, the institutions
 * they registered with (and revoking one), and their activity. Every query is filtered by the
 * signed-in subscriber: one subscriber never reaches another's rows (NotFoundError, as for a
 * row that does not exist).
 */
export class AccountService {
  readonly #deps: AccountDeps

  constructor(deps: AccountDeps) {
    this.#deps = deps
  }

  get db(): Database {
    return this.#deps.db
  }

  /**
   * A new session for a sign-in made with `certificateSerial` in the PostCert session
   * `oidcSessionUid`; returns the cookie's token (stored only as its hash).
   */
  async createSession(subscriberId: string, certificateSerial: string, oidcSessionUid: string): Promise<string> {
    const token = randomBytes(32).toString('base64url')
    const now = this.#deps.clock.now()
    await this.#deps.db.insertInto('account_session').values({
      id: hash(token), subscriber_id: subscriberId, certificate_serial: certificateSerial, oidc_session_uid: oidcSessionUid,
      created_at: now, expires_at: new Date(now.getTime() + ACCOUNT_SESSION_SECONDS * 1000),
      otp_hash: null, otp_sent_at: null, otp_expires_at: null, phone_verified_at: null, webauthn_challenge: null,
    }).execute()
    return token
  }

  /**
   * The live session behind a cookie token. A session lives only while the certificate it signed
   * in with is good and unexpired (a status change also deletes it: endAccountSessions).
   */
  async findSession(token: string | undefined): Promise<AccountSession | undefined> {
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
  async endSession(token: string | undefined): Promise<void> {
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

  /** Every certificate of the subscriber, newest first, with days left and its last login. */
  async certificates(subscriberId: string): Promise<CertificateOverview[]> {
    const [certificates, uses, passkeys] = await Promise.all([
      this.#deps.authority.listBySubscriber(subscriberId),
      this.#deps.db.selectFrom('audit_event').select(['certificate_serial']).select((eb) => eb.fn.max('occurred_at').as('last'))
        .where('subscriber_id', '=', subscriberId).where('type', '=', 'login').groupBy('certificate_serial') // audit_event_subscriber_idx
        .execute(),
      this.#deps.db.selectFrom('webauthn_credential').select(['certificate_serial', 'attested']).where('subscriber_id', '=', subscriberId).execute(),
    ])
    const attested = new Set(passkeys.filter((p) => p.attested).map((p) => p.certificate_serial))
    const lastUse = new Map(uses.map((u) => [u.certificate_serial, u.last as Date | null]))
    const now = this.#deps.clock.now()
    return certificates
      .map((c) => ({
        ...c, inUse: isInUse(c, now), level: assuranceOf(c.holder, attested.has(c.serial)).acr === ACR_HIGH ? 'high' as const : 'substantial' as const, daysLeft: Math.max(0, Math.ceil((c.notAfter.getTime() - now.getTime()) / 86_400_000)), lastUsedAt: lastUse.get(c.serial) ?? null,
      }))
      .sort((a, b) => b.notAfter.getTime() - a.notAfter.getTime())
  }

  /** One of the subscriber's certificates; NotFoundError for anyone else's. */
  async certificate(subscriberId: string, serial: string): Promise<CertificateOverview> {
    const found = (await this.certificates(subscriberId)).find((c) => c.serial === serial.toLowerCase())
    if (!found) throw new NotFoundError('no such certificate among yours')
    return found
  }

  /** The institutions the subscriber registered with: name, date, and what the registration grants. */
  async institutions(subscriberId: string): Promise<Institution[]> {
    const rows = await this.#deps.db.selectFrom('registration').selectAll().where('subscriber_id', '=', subscriberId).orderBy('created_at', 'desc').execute()
    const provider = this.#deps.provider()
    const found = await Promise.all(rows.map(async (row) => {
      const [client, grant] = await Promise.all([provider.Client.find(row.client_id), provider.Grant.find(row.grant_id)])
      if (!grant) return undefined // revoked or expired: no longer a registration
      const scopes = String(grant.getOIDCScope() ?? '').split(' ').filter(Boolean)
      const claims = [...new Set([...grant.getOIDCClaims()])]
      return { clientId: row.client_id, name: client?.clientName ?? row.client_id, registeredAt: row.created_at, scopes, claims }
    }))
    return found.filter((i): i is Institution => i !== undefined)
  }

  /**
   * Ends the registration at an institution: its grant and every token and code of it are
   * deleted, the institution is owed a back-channel logout for each of the subscriber's sessions
   * with it (the outbox, delivered at once and retried), and the next login there asks to register
   * again. Returns how many logouts were owed.
   */
  async revokeInstitution(subscriberId: string, clientId: string): Promise<{ notified: number }> {
    const { db, audit } = this.#deps
    const row = await db.selectFrom('registration').select('grant_id')
      .where('subscriber_id', '=', subscriberId).where('client_id', '=', clientId).executeTakeFirst()
    if (!row) throw new NotFoundError('you are not registered with this institution')
    const provider = this.#deps.provider()
    const notices = await this.#sessionsAt(provider, subscriberId, clientId)
    await Promise.all([provider.AccessToken, provider.RefreshToken, provider.AuthorizationCode].map((model) => model.adapter.revokeByGrantId(row.grant_id)))
    await provider.Grant.adapter.destroy(row.grant_id)
    const owed = await db.transaction().execute(async (trx) => {
      await trx.deleteFrom('registration').where('subscriber_id', '=', subscriberId).where('client_id', '=', clientId).execute()
      await audit.record(trx, { type: 'registration.revoked', subscriberId, data: { client: clientId, notified: notices.length } })
      return await this.#deps.notices.add(trx, notices)
    })
    await this.#deps.notices.deliver(owed).catch(() => 0) // kept in the outbox: every instance retries
    return { notified: notices.length }
  }

  /** A page of the subscriber's events, newest first; `before` is the last id of the page before. */
  async activity(subscriberId: string, before?: number): Promise<{ entries: ActivityEntry[]; next?: number }> {
    let query = this.#deps.db.selectFrom('audit_event').selectAll().where('subscriber_id', '=', subscriberId)
    if (before !== undefined) query = query.where('id', '<', before)
    const rows = await query.orderBy('id', 'desc').limit(ACTIVITY_PAGE_SIZE + 1).execute() // audit_event_subscriber_idx
    const entries = rows.slice(0, ACTIVITY_PAGE_SIZE).map((r) => {
      const data = JSON.parse(r.data) as Record<string, unknown>
      const text = (key: string) => (typeof data[key] === 'string' ? data[key] as string : undefined)
      return { id: r.id, at: r.occurred_at, type: r.type, clientId: text('client'), serial: r.certificate_serial ?? undefined, ip: text('ip'), device: text('device') }
    })
    return { entries, next: rows.length > ACTIVITY_PAGE_SIZE ? entries.at(-1)!.id : undefined }
  }

  /**
   * The back-channel logouts owed to the institution: one for each live PostCert session of the
   * subscriber that logged in there (its sid), found through the certificates they logged in
   * with; the institution leaves those sessions.
   */
  async #sessionsAt(provider: Provider, subscriberId: string, clientId: string): Promise<LogoutNotice[]> {
    const sessions = await this.#deps.db.selectFrom('login_session').innerJoin('certificate', 'certificate.serial', 'login_session.certificate_serial')
      .select(['login_session.session_uid', 'login_session.certificate_serial']).distinct()
      .where('certificate.subscriber_id', '=', subscriberId).where('login_session.expires_at', '>', this.#deps.clock.now()) // certificate_subscriber_idx, login_session_certificate_idx
      .execute()
    const owed = new Map<string, LogoutNotice>()
    for (const { session_uid, certificate_serial } of sessions) {
      const session = await provider.Session.findByUid(session_uid)
      const sid = session?.accountId === subscriberId ? session.authorizations?.[clientId]?.sid : undefined
      if (!sid) continue
      owed.set(sid, { clientId, subscriberId, sid, serial: certificate_serial })
      delete session!.authorizations![clientId]
      await session!.save(Math.max(1, (session!.exp ?? 0) - Math.floor(Date.now() / 1000)))
    }
    return [...owed.values()]
  }
}
