import { ConfigError } from '../config/config.ts'
import { DatabaseInUseError } from '../db/data-dir-lock.ts'
import { MigrationError } from '../db/migrator.ts'
import { DatabaseUnavailableError } from '../errors/postcert-error.ts'
import { MasterKeyMismatchError } from '../keys/secret-store.ts'

/** One readable line for anything that stops PostCert from starting. */
export function describeStartupError(err: unknown): string {
  // What the database layer reports as unavailable, by what made it so (refused, unknown host, ...).
  if (err instanceof DatabaseUnavailableError && err.cause) return describeStartupError(err.cause)
  if (err instanceof ConfigError) return `invalid configuration: ${err.message}`
  if (err instanceof DatabaseInUseError || err instanceof MasterKeyMismatchError || err instanceof MigrationError) return err.message
  const e = err as NodeJS.ErrnoException & { code?: string }
  if (e?.code === 'ECONNREFUSED' || e?.code === 'ENOTFOUND' || e?.code === 'EAI_AGAIN') return `cannot reach the database: ${e.message}`
  if (e?.code === 'EADDRINUSE') return `the port is already in use: ${e.message}`
  if (e?.code === '3D000' || e?.code === '28P01' || e?.code === '28000') return `cannot use the database: ${e.message}`
  return e instanceof Error ? e.message.split('\n')[0]! : String(err)
}
