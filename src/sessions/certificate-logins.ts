import { sql } from 'kysely'
import type { Logger } from 'pino'
import type { CertificateStatusListener } from '../ca/authority.ts'
import { DAY_MS } from '../ca/constants.ts'
import type { Database, DatabaseTransaction } from '../db/database.ts'
import { deleteByCertificate, sessionsByUid } from '../oidc/adapter.ts'
import type { LogoutNotice, LogoutNotices } from '../oidc/logout-notices.ts'
import type { Clock } from '../util/clock.ts'
import { endLoginSessions } from './login-sessions.ts'
import { endPortalSessions } from './portal-sessions.ts'

/**
 * Expired certificates are looked for this far back at an instance's first run (older ones had
 * their turn; their rows are refused anyway); later runs look back to their previous run.
 */
const EXPIRY_LOOKBACK_MS = 7 * DAY_MS
/** Later runs overlap the previous one by this much (clock steps, a slow run). */
const EXPIRY_OVERLAP_MS = 5 * 60 * 1000
/** Expired certificates ended per run. */
const EXPIRY_BATCH = 100

/**
 * A certificate's status governs what its logins opened. When it stops being usable (revoked,
 * suspended, superseded by renewal or reissue, or expired) this ends, in the transaction of
 * that change:
 * 1. its logins (login_session), first, so no token or session can be written for them after;
 * 2. their PostCert sessions, pending interactions, unredeemed codes, access and refresh tokens;
 * 3. the portal sessions signed in with it;
 * and owes each institution where one of its logins was used a back-channel logout with that
 * session's sid, delivered after the commit (oidc/logout-notices.ts).
 * The adapter refuses such rows on every use as well, so an instance that has not heard of the
 * change yet refuses them too. Nothing comes back when a suspension is lifted: rows written for
 * the certificate by requests in flight during the suspension are deleted then too.
 */
export class CertificateLogins implements CertificateStatusListener {
  readonly #db: Database
  readonly #clock: Clock
  readonly #notices: LogoutNotices
  readonly #logger: Logger
  /** When this instance last looked for expired certificates. */
  #expiredUntil: Date | undefined

  constructor(deps: { db: Database; clock: Clock; notices: LogoutNotices; logger: Logger }) {
    this.#db = deps.db
    this.#clock = deps.clock
    this.#notices = deps.notices
    this.#logger = deps.logger
  }

  async ended(trx: DatabaseTransaction, serials: string[]): Promise<string[]> {
    const logins = await endLoginSessions(trx, serials, this.#clock.now())
    // Read before the sessions go: each names its sid at every institution it logged in to.
    const sessions = await sessionsByUid(trx, [...new Set(logins.map((l) => l.sessionUid))])
    const rows = await deleteByCertificate(trx, serials)
    await endPortalSessions(trx, serials)

    const owners = new Map((await trx.selectFrom('certificate').select(['serial', 'subscriber_id']).where('serial', 'in', serials).execute()) // certificate_pkey
      .map((c) => [c.serial, c.subscriber_id]))
    const notices = new Map<string, LogoutNotice>()
    const owe = (clientId: unknown, sid: unknown, serial: string) => {
      const subscriberId = owners.get(serial)
      if (typeof clientId === 'string' && typeof sid === 'string' && subscriberId) notices.set(`${clientId} ${sid}`, { clientId, sid, subscriberId, serial })
    }
    for (const login of logins) {
      const authorizations = sessions.get(login.sessionUid)?.authorizations ?? {}
      // A login remembered before its institution was (older rows) ends the whole session's.
      const clients = login.clientId ? [login.clientId] : Object.keys(authorizations)
      for (const clientId of clients) owe(clientId, authorizations[clientId]?.sid, login.serial)
    }
    // Codes and tokens name their session's sid too: the institution is told even when the
    // PostCert session itself has already ended (tokens outlive it).
    for (const row of rows) owe(row.payload.clientId, row.payload.sid, row.serial)
    return await this.#notices.add(trx, [...notices.values()])
  }

  async resumed(trx: DatabaseTransaction, serials: string[]): Promise<void> {
    await deleteByCertificate(trx, serials)
    await endPortalSessions(trx, serials)
  }

  /** Delivers the logouts this change owes (the backlog is the background job's). */
  async committed(owed: string[]): Promise<void> {
    try {
      await this.#notices.deliver(owed)
    } catch (err) {
      // Kept in the outbox: every instance's background job delivers it.
      this.#logger.warn({ err }, 'back-channel logouts deferred')
    }
  }

  /**
   * Ends what the logins of certificates that expired opened (expiry changes no status, so this
   * background job does it; each instance runs it, and each login ends once). Returns how many
   * certificates it ended.
   */
  async endExpired(): Promise<number> {
    const now = this.#clock.now()
    const since = this.#expiredUntil ? new Date(this.#expiredUntil.getTime() - EXPIRY_OVERLAP_MS) : new Date(now.getTime() - EXPIRY_LOOKBACK_MS)
    const { rows } = await sql<{ serial: string }>`
      select c.serial from certificate c
      where c.status = 'good' and c.replaced_by is null and c.not_after <= ${now} and c.not_after > ${since}
        and (exists (select 1 from login_session ls where ls.certificate_serial = c.serial and ls.ended_at is null)
          or exists (select 1 from account_session a where a.certificate_serial = c.serial))
      limit ${EXPIRY_BATCH}`.execute(this.#db) // certificate_expiry_idx, login_session_certificate_idx, account_session_certificate_idx
    const serials = rows.map((r) => r.serial)
    // A full batch may leave more behind: look from the same point next time.
    if (serials.length < EXPIRY_BATCH) this.#expiredUntil = now
    if (!serials.length) return 0
    const owed = await this.#db.transaction().execute(async (trx) => this.ended(trx, serials))
    await this.committed(owed)
    return serials.length
  }
}
