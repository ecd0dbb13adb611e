import type { ColumnType } from 'kysely'

/** Named server secrets (cookie keys, CSRF key, ...), sealed with the master key. */
export interface ServerSecretTable {
  name: string
  sealed_value: string
  created_at: ColumnType<Date, Date | undefined, never>
}

export interface ServerSecretSchema {
  server_secret: ServerSecretTable
}
