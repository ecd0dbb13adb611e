import { sql } from 'kysely'
import type { AuditEvent } from '../audit/audit-log.ts'
import type { Database } from '../db/database.ts'
import type { Clock } from '../util/clock.ts'
import { koreanDate } from '../util/korean-time.ts'

/** The metric and label an audit event counts under, if the dashboard shows it. */
function tallyOf(event: AuditEvent): [string, string] | undefined {
  const data = event.data ?? {}
  const text = (value: unknown, fallback: string) => (typeof value === 'string' ? value : fallback)
  switch (event.type) {
    case 'certificate.issued': return ['issued', 'new']
    case 'certificate.renewed': return ['issued', 'renewal']
    case 'certificate.reissued': return ['issued', 'reissue']
    case 'login': return ['login', text(data.holder, 'unknown')]
    case 'signature': return ['signature', text(data.holder, 'unknown')]
    case 'certificate.revoked': return ['status', `revoked:${text(data.reason, 'unspecified')}`]
    case 'certificate.suspended': return ['status', 'suspended']
    case 'certificate.resumed': return ['status', 'resumed']
    default: return undefined
  }
}

/**
 * The operator dashboard's counts per Korean day: issuance, logins, signatures, status changes
 * (from audit events as they are written) and refused logins by reason (from the request log).
 * Counting happens in memory and is added to daily_tally by `flush` (every few seconds, and at
 * close), so a burst of logins costs no extra write each and no hot row. A crash loses the last
 * few seconds of counts: the chart is a picture, the audit log stays the record. This module
 * alone writes the table.
 */
export class DailyTally {
  readonly #db: Database
  readonly #clock: Clock
  /** day|metric|label -> count not yet flushed. */
  #pending = new Map<string, number>()

  constructor(db: Database, clock: Clock) {
    this.#db = db
    this.#clock = clock
  }

  count(metric: string, label: string, by = 1): void {
    const key = `${koreanDate(this.#clock.now())}|${metric}|${label}`
    this.#pending.set(key, (this.#pending.get(key) ?? 0) + by)
  }

  audited(event: AuditEvent): void {
    const tally = tallyOf(event)
    if (tally) this.count(...tally)
  }

  /** Adds what was counted since the last flush; what fails to be written is kept for the next. */
  async flush(): Promise<void> {
    if (!this.#pending.size) return
    const batch = this.#pending
    this.#pending = new Map()
    try {
      const rows = [...batch].map(([key, count]) => {
        const [day, metric, label] = key.split('|') as [string, string, string]
        return { day, metric, label, count }
      })
      await this.#db.insertInto('daily_tally').values(rows)
        .onConflict((oc) => oc.columns(['day', 'metric', 'label']).doUpdateSet({ count: sql<number>`daily_tally.count + excluded.count` }))
        .execute() // primary key
    } catch (err) {
      for (const [key, count] of batch) this.#pending.set(key, (this.#pending.get(key) ?? 0) + count)
      throw err
    }
  }

  /** Every count from `since` (a Korean day) on, by day, metric and label. */
  async read(since: string): Promise<{ day: string; metric: string; label: string; count: number }[]> {
    return await this.#db.selectFrom('daily_tally').select(['day', 'metric', 'label', 'count'])
      .where('day', '>=', since).orderBy('day').execute() // daily_tally_pk (day first: a range scan of the window)
  }
}
