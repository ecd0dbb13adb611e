import type { ColumnType, Generated } from 'kysely'

export interface SandboxSmsTable {
  id: Generated<number>
  to_e164: string
  body: string
  sent_at: Date
  /** The sender's idempotency key, when it gave one (a message sent twice is kept once). */
  idempotency_key: ColumnType<string | null, string | null | undefined, string | null>
}

export interface SandboxSmsSchema {
  sandbox_sms: SandboxSmsTable
}
