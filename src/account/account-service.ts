import type { AuditLog } from '../audit/audit-log.ts'
import { isInUse, type CertificateAuthority, type CertificateRecord } from '../ca/authority.ts'
import type { Database } from '../db/database.ts'
import { notFound } from '../errors/errors.ts'
import { ACR_HIGH, assuranceOf } from '../possession/assurance.ts'
import type { Clock } from '../util/clock.ts'
import { daysLeft } from '../ca/days-left.ts'

/** Activity entries per page. */
export const ACTIVITY_PAGE_SIZE = 20

export interface CertificateOverview extends CertificateRecord {
  /** Counts towards MAX_CERTIFICATES_IN_USE (isInUse). */
  inUse: boolean
  /** The assurance level a login with it gives (an attested passkey: high). */
  level: 'high' | 'substantial'
  daysLeft: number
  lastUsedAt: Date | null
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
}

/**
 * The subscriber portal's data: the subscriber's certificates and their activity (its sessions
 * are sessions/portal-sessions.ts, its institutions registrations/registrations.ts). Every query
 * is filtered by the signed-in subscriber: one subscriber never reaches another's rows
 * (NotFoundError, as for a row that does not exist).
 */
export class AccountService {
  readonly #deps: AccountDeps

  constructor(deps: AccountDeps) {
    this.#deps = deps
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
        ...c, inUse: isInUse(c, now), level: assuranceOf(c.holder, attested.has(c.serial)).acr === ACR_HIGH ? 'high' as const : 'substantial' as const, daysLeft: daysLeft(c.notAfter, now), lastUsedAt: lastUse.get(c.serial) ?? null,
      }))
      .sort((a, b) => b.notAfter.getTime() - a.notAfter.getTime())
  }

  /** One of the subscriber's certificates; NotFoundError for anyone else's. */
  async certificate(subscriberId: string, serial: string): Promise<CertificateOverview> {
    const found = (await this.certificates(subscriberId)).find((c) => c.serial === serial.toLowerCase())
    if (!found) throw notFound('no such certificate among yours')
    return found
  }

  /** A page of the subscriber's events, newest first; `before` is the last id of the page before. */
  async activity(subscriberId: string, before?: number): Promise<{ entries: ActivityEntry[]; next?: number }> {
    let query = this.#deps.db.selectFrom('audit_event').selectAll().where('subscriber_id', '=', subscriberId)
    if (before !== undefined) query = query.where('id', '<', before)
    const rows = await query.orderBy('id', 'desc').limit(ACTIVITY_PAGE_SIZE + 1).execute() // audit_event_subscriber_idx
    const entries = rows.slice(0, ACTIVITY_PAGE_SIZE).map((r) => {
      const data = JSON.parse(r.data) as Record<string, unknown>
      const text = (key: string) => (typeof data[key] === 'string' ? data[key] : undefined)
      return { id: r.id, at: r.occurred_at, type: r.type, clientId: text('client'), serial: r.certificate_serial ?? undefined, ip: text('ip'), device: text('device') }
    })
    return { entries, next: rows.length > ACTIVITY_PAGE_SIZE ? entries.at(-1)!.id : undefined }
  }
}
