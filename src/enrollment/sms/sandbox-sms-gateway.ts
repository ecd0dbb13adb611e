import type { Database } from '../../db/database.ts'
import type { Clock } from '../../util/clock.ts'
import type { SmsGateway } from './sms-gateway.ts'

/**
 * The SANDBOX gateway: messages go to a table and are shown at GET /sandbox/sms, never to a
 * phone. Only outside production (config refuses it in production).
 */
export class SandboxSmsGateway implements SmsGateway {
  readonly kind = 'sandbox' as const
  readonly #db: Database
  readonly #clock: Clock

  constructor(db: Database, clock: Clock) {
    this.#db = db
    this.#clock = clock
  }

  async send(toE164: string, body: string): Promise<void> {
    await this.#db.insertInto('sandbox_sms').values({ to_e164: toE164, body, sent_at: this.#clock.now() }).execute()
  }

  async outbox(limit = 50): Promise<{ to: string; body: string; sentAt: Date }[]> {
    const rows = await this.#db.selectFrom('sandbox_sms').selectAll().orderBy('id', 'desc').limit(limit).execute()
    return rows.map((r) => ({ to: r.to_e164, body: r.body, sentAt: r.sent_at }))
  }
}
