import type { DatabaseTransaction, Database } from '../db/database.ts'
import { writeAlong, type RequestRows } from '../db/request-rows.ts'
import type { Clock } from '../util/clock.ts'

/**
 * Every kind of event the log holds; the portal's activity page names each one
 * (views/locales: `account.event.<type>`, checked by test/audit/audit-events.test.ts).
 */
export const AUDIT_EVENT_TYPES = [
  'login', 'signature', 'consent.granted', 'registration.revoked',
  'certificate.issued', 'certificate.reissued', 'certificate.renewed', 'certificate.revoked', 'certificate.suspended', 'certificate.resumed',
  'enrollment.phone_verified', 'enrollment.identity_verified',
  // The operator's actions through the admin API or the CLI (data.actor names who).
  'operator.client_added', 'operator.client_removed', 'operator.client_secret_rotated', 'operator.initial_access_token_created',
  'operator.keys_rotated', 'operator.audit_exported', 'operator.master_key_rewrapped',
  'operator.approval_requested', 'operator.approval_approved', 'operator.approval_rejected',
  // The console's operators (people with a passkey): invited from the CLI, enrolled, signed in, disabled.
  'operator.operator_invited', 'operator.operator_enrolled', 'operator.signed_in', 'operator.operator_disabled',
  // An operator read a subscriber's personal data (the access log 개인정보의 안전성 확보조치 기준 asks for).
  'operator.subscriber_viewed',
] as const
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number]

export interface AuditEvent {
  type: AuditEventType
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
  readonly #written: ((event: AuditEvent) => void) | undefined

  /** `written` hears of each event as it is written (the domain metrics). */
  constructor(clock: Clock, written?: (event: AuditEvent) => void) {
    this.#clock = clock
    this.#written = written
  }

  async record(trx: DatabaseTransaction | Database, event: AuditEvent): Promise<void> {
    await this.#insert(trx, event).execute()
    this.#written?.(event)
  }

  /**
   * Records the event with the request's next write (db/request-rows.ts), in its statement and
   * transaction: an event of a step whose outcome that write saves (a login, saved as the
   * interaction's result) exists exactly when the outcome does. Outside a request, at once.
   */
  async recordAlong(requests: RequestRows | undefined, db: Database, event: AuditEvent): Promise<void> {
    await writeAlong(requests, db, { query: this.#insert(db, event).compile(), done: () => this.#written?.(event) })
  }

  #insert(trx: DatabaseTransaction | Database, event: AuditEvent) {
    return trx.insertInto('audit_event').values({
      occurred_at: this.#clock.now(),
      type: event.type,
      subscriber_id: event.subscriberId ?? null,
      certificate_serial: event.certificateSerial ?? null,
      data: JSON.stringify(event.data ?? {}),
    })
  }
}
