import type { ColumnType } from 'kysely'

export interface MigrationTable {
  name: string
  applied_at: ColumnType<Date, Date | undefined, never>
}

export interface MigrationSchema {
  postcert_migration: MigrationTable
}
