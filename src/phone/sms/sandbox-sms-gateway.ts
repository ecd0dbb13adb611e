import type { Database } from '../../db/database.ts'
import type { Clock } from '../../util/clock.ts'
import type { SendOptions, SmsGateway } from './sms-gateway.ts'

/**
 * The SANDBOX gateway: messages go to a table and are shown at GET /sandbox/sms, never to a
 * phone. Only outside production (config refuses it in production). A second message with the
 * same idempotency key is dropped, as a real gateway that honours the key does.
 */
export class SandboxSmsGateway implements SmsGateway {
  readonly kind = 'sandbox' as const
  readonly #db: Database
  readonly #clock: Clock

  constructor(db: Database, clock: Clock) {
    this.#db = db
    this.#clock = clock
  }

  async send(toE164: string, body: string, options: SendOptions = {}): Promise<void> {
    await this.#db.insertInto('sandbox_sms')
      .values({ to_e164: toE164, body, sent_at: this.#clock.now(), idempotency_key: options.idempotencyKey ?? null })
      .onConflict((oc) => oc.column('idempotency_key').doNothing()) // sandbox_sms_idempotency_idx; null keys never conflict
      .execute()
  }

  async outbox(limit = 50): Promise<{ to: string; body: string; sentAt: Date }[]> {
    const rows = await this.#db.selectFrom('sandbox_sms').selectAll().orderBy('id', 'desc').limit(limit).execute()
    return rows.map((r) => ({ to: r.to_e164, body: r.body, sentAt: r.sent_at }))
  }
}
