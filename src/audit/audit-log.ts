import type { DatabaseTransaction, Database } from '../db/database.ts'
import type { Clock } from '../util/clock.ts'

export interface AuditEvent {
  type: string
  subscriberId?: string | null
  certificateSerial?: string | null
  data?: Record<string, unknown>
}

/**
 * The append-only event log (the table refuses updates and deletes). Events are written in the
 * transaction of the change they describe, so one never exists without the other.
 */
export class AuditLog {
  readonly #clock: Clock

  constructor(clock: Clock) {
    this.#clock = clock
  }

  async record(trx: DatabaseTransaction | Database, event: AuditEvent): Promise<void> {
    await trx.insertInto('audit_event').values({
      occurred_at: this.#clock.now(),
      type: event.type,
      subscriber_id: event.subscriberId ?? null,
      certificate_serial: event.certificateSerial ?? null,
      data: JSON.stringify(event.data ?? {}),
    }).execute()
  }
}
