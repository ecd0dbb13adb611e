import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import pg from 'pg'
import pino from 'pino'
import { connectDatabase } from '../../src/db/connect.ts'
import { upkeepSettings, upkeepWarning } from '../../src/db/upkeep.ts'
import { createTestDatabase, NEEDS_POSTGRES } from '../helpers/db.ts'
import { startTestServer } from '../helpers/server.ts'

describe('PostgreSQL upkeep: a server warns when nothing analyzes its tables (#19)', () => {
  it('names the settings that are off, and says nothing when both are on', () => {
    assert.equal(upkeepWarning({ autovacuum: 'on', track_counts: 'on' }), undefined)
    assert.match(upkeepWarning({ autovacuum: 'off', track_counts: 'on' })!, /^PostgreSQL's autovacuum is off: .*VACUUM ANALYZE/)
    assert.match(upkeepWarning({ autovacuum: 'on', track_counts: 'off' })!, /^PostgreSQL's track_counts is off: /)
    assert.match(upkeepWarning({ autovacuum: 'off', track_counts: 'off' })!, /^PostgreSQL's autovacuum and track_counts are off: /)
  })

  it('reads the settings of the session the server\'s connection has', { skip: NEEDS_POSTGRES }, async () => {
    // track_counts may be set for one session (by a superuser: DATABASE_URL's role here).
    for (const value of ['off', 'on']) {
      const url = new URL(process.env.DATABASE_URL!)
      url.searchParams.set('options', `-c track_counts=${value}`)
      const db = connectDatabase({ kind: 'postgres', url: url.href, poolSize: 1 })
      try {
        assert.equal((await upkeepSettings(db)).track_counts, value)
      } finally {
        await db.destroy()
      }
    }
  })

  it('logs the warning as it starts when this cluster\'s autovacuum is off, and not when it is on', { skip: NEEDS_POSTGRES }, async () => {
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL })
    await admin.connect()
    const { rows: [cluster] } = await admin.query<{ autovacuum: string; track_counts: string }>('select current_setting(\'autovacuum\') as autovacuum, current_setting(\'track_counts\') as track_counts')
    await admin.end()
    const warnings: string[] = []
    const logger = pino({ level: 'warn' }, { write: (line: string) => { warnings.push((JSON.parse(line) as { msg: string }).msg) } })
    const database = await createTestDatabase('postgres')
    const server = await startTestServer({ database, env: database.env, overrides: { logger } })
    await server.close()
    const expected = upkeepWarning(cluster!)
    assert.deepEqual(warnings.filter((msg) => msg.startsWith('PostgreSQL\'s')), expected ? [expected] : [])
  })
})
