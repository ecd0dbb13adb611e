import type { Generated } from 'kysely'

export interface AuditEventTable {
  id: Generated<number>
  occurred_at: Date
  type: string
  subscriber_id: string | null
  certificate_serial: string | null
  /** JSON text. */
  data: string
}

export interface AuditEventSchema {
  audit_event: AuditEventTable
}
