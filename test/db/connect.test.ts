import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { sql, type Kysely } from 'kysely'
import { connectDatabase } from '../../src/db/connect.ts'
import { createTestSchema, NEEDS_POSTGRES } from '../helpers/db.ts'

describe('PostgreSQL connections', { skip: NEEDS_POSTGRES }, () => {
  it('prepare each data statement once per connection, and leave the rest unnamed', async () => {
    const { ownerUrl, dropSchema } = await createTestSchema()
    const db = connectDatabase({ kind: 'postgres', url: ownerUrl })
    try {
      await sql`create table probe (k text, state text, v int)`.execute(db)
      await sql`create unique index probe_one_active on probe (k) where state = 'active'`.execute(db)
      const probe = db as unknown as Kysely<{ probe: { k: string; state: string; v: number } }>
      const prepared = await probe.connection().execute(async (conn) => {
        for (let i = 0; i < 3; i++) await conn.selectFrom('probe').select('v').where('k', '=', `k${i}`).execute()
        // A partial-index ON CONFLICT target is matched while planning: this one must stay unnamed to work.
        for (const state of ['active', 'active']) {
          await conn.insertInto('probe').values({ k: 'a', state, v: 1 }).onConflict((oc) => oc.column('k').where('state', '=', state).doNothing()).execute()
        }
        return (await sql<{ statement: string }>`select statement from pg_prepared_statements where name like 'pc_%'`.execute(conn)).rows.map((r) => r.statement)
      })
      assert.equal(prepared.filter((s) => s.startsWith('select "v" from "probe"')).length, 1, 'one prepared statement for three runs')
      assert.ok(!prepared.some((s) => /on conflict/i.test(s)), 'the ON CONFLICT … WHERE insert ran unnamed')
      assert.equal((await probe.selectFrom('probe').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n, 1)
    } finally {
      await db.destroy()
      await dropSchema()
    }
  })

  it('open at most DATABASE_POOL_SIZE connections per process', async () => {
    const { ownerUrl, dropSchema } = await createTestSchema()
    try {
      for (const poolSize of [1, 3]) {
        const db = connectDatabase({ kind: 'postgres', url: ownerUrl, poolSize })
        try {
          // Six queries at once, each holding its connection for a moment: they share poolSize backends.
          const pids = await Promise.all(Array.from({ length: 6 }, () =>
            sql<{ pid: number }>`select pg_backend_pid() as pid, pg_sleep(0.05)`.execute(db).then((r) => r.rows[0]!.pid)))
          assert.equal(new Set(pids).size, poolSize)
        } finally {
          await db.destroy()
        }
      }
    } finally {
      await dropSchema()
    }
  })
})
