import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { sql } from 'kysely'
import { ManualClock } from '../../src/util/clock.ts'
import { NEEDS_POSTGRES, SERVER_ROLE } from '../helpers/db.ts'
import { loginSuite } from '../helpers/suite.ts'

/**
 * The server as a role that owns nothing (DATABASE_URL), migrations as the owner
 * (DATABASE_OWNER_URL): what someone who takes over the server process can do to the database.
 * Every PostgreSQL test runs the server this way; this file names what the role is refused.
 */
describe('the server\'s database role: rows only, the audit log and the signature archive append-only', { skip: NEEDS_POSTGRES }, () => {
  const clock = new ManualClock()
  const { server, h } = loginSuite(clock, () => ({ backend: 'postgres' }))

  it('serves as a role other than the tables\' owner', async () => {
    const { rows: [me] } = await sql<{ role: string; owner: string }>`
      select current_user as role, (select tableowner from pg_tables where tablename = 'audit_event' and schemaname = current_schema()) as owner`.execute(server.ctx.db)
    assert.equal(me!.role, SERVER_ROLE)
    assert.notEqual(me!.owner, SERVER_ROLE)
  })

  it('logs in and writes its audit events', async () => {
    const rp = await h.relyingParty({ name: '권한은행', redirectUri: 'https://roles.example.kr/cb' })
    const holder = await h.subscriber()
    const { tokens } = await h.login(rp, holder)
    assert.ok(tokens.access_token)
    const events = await server.ctx.db.selectFrom('audit_event').select('type').where('type', '=', 'login').execute()
    assert.ok(events.length >= 1)
  })

  for (const [what, statement, refusal] of [
    ['truncate the audit log', sql`truncate audit_event`, /permission denied/],
    ['truncate the signature archive', sql`truncate signature`, /permission denied/],
    ['disable the audit log\'s triggers', sql`alter table audit_event disable trigger all`, /must be owner/],
    ['edit an audit event', sql`update audit_event set type = 'x'`, /permission denied/],
    ['delete an audit event', sql`delete from audit_event`, /permission denied/],
    ['delete an archived signature', sql`delete from signature`, /permission denied/],
    ['drop a table', sql`drop table certificate`, /must be owner/],
    ['create a table', sql`create table intruder (x int)`, /permission denied/],
    ['rewrite the migration record', sql`delete from postcert_migration`, /permission denied/],
  ] as const) {
    it(`cannot ${what}`, async () => {
      await assert.rejects(statement.execute(server.ctx.db), refusal)
    })
  }
})
