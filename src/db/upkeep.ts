// What PostCert needs of PostgreSQL's own upkeep, checked as a server starts: autovacuum, which
// analyzes the tables as they grow (and vacuums their dead rows). Every data statement is prepared
// once per connection (connect.ts), and after five runs PostgreSQL may keep one generic plan for
// it. Statistics that change (ANALYZE) make it plan again; without them a plan made while a table
// was nearly empty is kept for good, and a token lookup that cost nothing at a hundred rows then
// reads every session row (measured: PostgreSQL's CPU per login 4.4 → 7.6 ms within a minute).
import { sql } from 'kysely'
import type { Database } from './database.ts'

/** The settings that decide whether anything analyzes the tables, as PostgreSQL reports them. */
export interface UpkeepSettings {
  autovacuum: string
  track_counts: string
}

/** The warning for settings under which nothing analyzes PostCert's tables, or undefined when they are kept. */
export function upkeepWarning(settings: UpkeepSettings): string | undefined {
  const off = (['autovacuum', 'track_counts'] as const).filter((name) => settings[name] !== 'on')
  if (!off.length) return undefined
  return `PostgreSQL's ${off.join(' and ')} ${off.length > 1 ? 'are' : 'is'} off: nothing analyzes PostCert's tables, so plans made while they were small are kept as they grow and each request costs the database more and more; turn autovacuum on, or run VACUUM ANALYZE on them every few minutes (docs/operations.md, PostgreSQL upkeep)`
}

/** The settings of the database `db` reaches (its session's values). */
export async function upkeepSettings(db: Database): Promise<UpkeepSettings> {
  const { rows: [settings] } = await sql<UpkeepSettings>`select current_setting('autovacuum') as autovacuum, current_setting('track_counts') as track_counts`.execute(db)
  return settings!
}
