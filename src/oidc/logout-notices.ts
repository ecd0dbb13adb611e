import { sql } from 'kysely'
import type Provider from 'oidc-provider'
import type { Logger } from 'pino'
import type { Database } from '../db/database.ts'
import type { Clock } from '../util/clock.ts'

/** Notices one delivery run takes (the rest wait for the next run). */
const BATCH_SIZE = 100
/** Notices written per statement (a certificate may have ended a great many logins). */
const INSERT_CHUNK = 1000
/** Retries back off from 30 s, doubling, to at most an hour; after this many attempts the notice is dropped. */
const MAX_ATTEMPTS = 12

/** A back-channel logout owed to an institution: its session `sid` there ended. */
export interface LogoutNotice {
  clientId: string
  /** The account id; oidc-provider turns it into the institution's (pairwise) subject. */
  subscriberId: string
  sid: string
  /** The certificate whose status change ended the login. */
  serial: string
}

/**
 * The outbox of back-channel logouts (OpenID Connect Back-Channel Logout 1.0). Notices are
 * written in the transaction that ended the logins, so a crash loses none; delivery comes
 * after the commit, at once and again by every instance's background job until the institution
 * answers 200 (at least once: logout tokens carry a jti for the institution to drop repeats).
 * Institutions that registered no backchannel_logout_uri are skipped.
 */
export class LogoutNotices {
  readonly #db: Database
  readonly #clock: Clock
  readonly #provider: () => Provider
  readonly #logger: Logger

  constructor(deps: { db: Database; clock: Clock; provider: () => Provider; logger: Logger }) {
    this.#db = deps.db
    this.#clock = deps.clock
    this.#provider = deps.provider
    this.#logger = deps.logger
  }

  /**
   * Adds notices in the caller's transaction; one already pending for the same session at the
   * same institution is not added twice. Returns the ids added (to deliver them after the commit).
   */
  async add(trx: Database, notices: LogoutNotice[]): Promise<string[]> {
    const now = this.#clock.now()
    const ids: string[] = []
    for (let i = 0; i < notices.length; i += INSERT_CHUNK) {
      const rows = await trx.insertInto('logout_notice').values(notices.slice(i, i + INSERT_CHUNK).map((n) => ({
        client_id: n.clientId, subscriber_id: n.subscriberId, sid: n.sid, certificate_serial: n.serial, created_at: now, next_attempt_at: now,
      }))).onConflict((oc) => oc.columns(['client_id', 'sid']).doNothing()).returning('id').execute() // logout_notice_session_idx
      ids.push(...rows.map((r) => String(r.id)))
    }
    return ids
  }

  /**
   * Delivers notices that are due (`only` these, when given: a request delivers its own and
   * leaves the backlog to the background job); returns how many were delivered. Each is claimed
   * first (its next attempt moved on, SKIP LOCKED), so instances running this at once never send
   * one notice twice in a round, and a crash mid-send only delays it.
   */
  async deliver(only?: string[]): Promise<number> {
    return (await this.#batch(only)).sent
  }

  /**
   * The background job's delivery: batch after batch while batches come full (a certificate that
   * ended thousands of logins), up to `maxBatches`. Returns how many were delivered.
   */
  async drain(maxBatches = 50): Promise<number> {
    let sent = 0
    for (let i = 0; i < maxBatches; i++) {
      const batch = await this.#batch()
      sent += batch.sent
      if (batch.claimed < BATCH_SIZE) break
    }
    return sent
  }

  async #batch(only?: string[]): Promise<{ claimed: number; sent: number }> {
    if (only && !only.length) return { claimed: 0, sent: 0 }
    const now = this.#clock.now()
    const { rows } = await sql<{ id: string; client_id: string; subscriber_id: string; sid: string; attempts: number }>`
      update logout_notice n set attempts = n.attempts + 1,
        next_attempt_at = ${now}::timestamptz + make_interval(secs => least(3600, 30 * power(2, n.attempts)))
      where n.id in (
        select id from logout_notice where next_attempt_at <= ${now} ${only ? sql`and id = any(${only.map(Number)}::bigint[])` : sql``}
        order by next_attempt_at limit ${BATCH_SIZE} for update skip locked
      )
      returning n.id, n.client_id, n.subscriber_id, n.sid, n.attempts`.execute(this.#db) // logout_notice_due_idx, logout_notice_pkey
    if (!rows.length) return { claimed: 0, sent: 0 }
    const provider = this.#provider()
    const outcomes = await Promise.all(rows.map(async (notice) => {
      const client = await provider.Client.find(notice.client_id)
      if (!client?.backchannelLogoutUri) return { notice, done: true, sent: false }
      try {
        // oidc-provider's own logout token, as at /session/end: the institution's subject, typ logout+jwt, the sid.
        await (client as unknown as { backchannelLogout(accountId: string, sid: string): Promise<void> }).backchannelLogout(notice.subscriber_id, notice.sid)
        return { notice, done: true, sent: true }
      } catch (err) {
        const last = notice.attempts >= MAX_ATTEMPTS
        this.#logger[last ? 'error' : 'warn']({ err, client_id: notice.client_id, attempts: notice.attempts },
          last ? 'back-channel logout undeliverable: dropped' : 'back-channel logout failed: will retry')
        return { notice, done: last, sent: false }
      }
    }))
    const done = outcomes.filter((o) => o.done).map((o) => o.notice.id)
    if (done.length) await this.#db.deleteFrom('logout_notice').where('id', 'in', done).execute() // primary key
    return { claimed: rows.length, sent: outcomes.filter((o) => o.sent).length }
  }
}
