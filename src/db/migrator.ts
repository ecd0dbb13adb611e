import { sql, type Kysely } from 'kysely'
import { migrations, type Migration } from '../../migrations/index.ts'
import type { Database } from './database.ts'

export class MigrationError extends Error {
  override name = 'MigrationError'
}

export interface MigrationReport {
  applied: string[]
  current: string[]
}

/**
 * Applies pending migrations in order, in one transaction holding a transaction-level advisory
 * lock on the current schema: two instances starting together migrate once, the second waits and
 * finds nothing left to do. Any failure rolls everything back and throws. With `grantTo` (the
 * server's role, when migrations run as the tables' owner) the grants follow, under the same lock.
 */
export async function migrateToLatest(db: Database, list: readonly Migration[] = migrations, options: { grantTo?: string } = {}): Promise<MigrationReport> {
  assertOrdered(list)
  return await db.transaction().execute(async (trx) => {
    // A migration may rewrite a large table: the request path's limits do not apply to it.
    await sql`set local statement_timeout = 0`.execute(trx)
    await sql`set local lock_timeout = 0`.execute(trx)
    await sql`select pg_advisory_xact_lock(hashtext('postcert-migrate:' || current_schema()))`.execute(trx)
    // Created under the lock: racing first starts would otherwise collide on the table's type.
    await sql`create table if not exists postcert_migration (name text primary key, applied_at timestamptz not null default now())`.execute(trx)
    const done = new Set((await trx.selectFrom('postcert_migration').select('name').execute()).map((r) => r.name))
    const unknown = [...done].filter((name) => !list.some((m) => m.name === name))
    if (unknown.length) throw new MigrationError(`the database has migrations this version does not know: ${unknown.join(', ')}`)
    const applied: string[] = []
    for (const migration of list) {
      if (done.has(migration.name)) continue
      try {
        await migration.up(trx)
      } catch (err) {
        throw new MigrationError(`migration ${migration.name} failed: ${(err as Error).message}`, { cause: err })
      }
      await trx.insertInto('postcert_migration').values({ name: migration.name }).execute()
      applied.push(migration.name)
    }
    if (options.grantTo) await grantServerRole(trx, options.grantTo)
    return { applied, current: list.map((m) => m.name) }
  })
}

/**
 * What the server's role may do when another role owns the tables (DATABASE_OWNER_URL): read and
 * write rows, nothing else. It cannot alter, truncate or disable the triggers of any table (those
 * need ownership or the TRUNCATE privilege), may only add to the audit log and the signature
 * archive, and only reads the migration record. Granted again after every migration, so a new
 * table is covered at once. Nothing to do when the server's role is the owner itself.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations and their grants run on the schema of their day, not today's types
async function grantServerRole(trx: Kysely<any>, role: string): Promise<void> {
  const { rows: [me] } = await sql<{ user: string; schema: string }>`select current_user as "user", current_schema() as schema`.execute(trx)
  if (me!.user === role) return
  const [r, s] = [sql.id(role), sql.id(me!.schema)]
  await sql`grant usage on schema ${s} to ${r}`.execute(trx)
  await sql`grant select, insert, update, delete on all tables in schema ${s} to ${r}`.execute(trx)
  await sql`grant usage, select on all sequences in schema ${s} to ${r}`.execute(trx)
  await sql`revoke update, delete, truncate on audit_event, signature from ${r}`.execute(trx)
  await sql`revoke insert, update, delete, truncate on postcert_migration from ${r}`.execute(trx)
}

/** The role a connection acts as. */
export async function roleOf(db: Database): Promise<string> {
  return (await sql<{ role: string }>`select current_user as role`.execute(db)).rows[0]!.role
}

/** True when every known migration is applied (readiness). */
export async function migrationsCurrent(db: Database, list: readonly Migration[] = migrations): Promise<boolean> {
  const rows = await db.selectFrom('postcert_migration').select('name').execute()
  const done = new Set(rows.map((r) => r.name))
  return list.every((m) => done.has(m.name))
}

function assertOrdered(list: readonly Migration[]): void {
  for (let i = 1; i < list.length; i++) {
    if (list[i - 1]!.name >= list[i]!.name) throw new MigrationError(`migrations out of order: ${list[i - 1]!.name} before ${list[i]!.name}`)
  }
}
