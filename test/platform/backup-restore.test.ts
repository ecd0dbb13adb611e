// docs/operations.md's backup and restore, as an operator runs it: pg_dump as the owner, the
// database lost, pg_restore into an empty one, PostCert started with the same master key serves
// the same CA, signing keys and clients; with another key it refuses to start.
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import pg from 'pg'
import { createTestSchema, NEEDS_POSTGRES } from '../helpers/db.ts'
import { childEnv, newMasterKey, ROOT, runCli, SERVER_MAIN, startServerProcess } from '../helpers/process.ts'
import { freePort, tempDir } from '../helpers/server.ts'

const NEEDS_PG_DUMP = fs.existsSync('/usr/bin/pg_dump') ? false : 'install PostgreSQL\'s client tools (pg_dump, pg_restore)'

/** What must survive: the CA chain, the JWKS key ids, the registered clients. */
async function state(base: string, env: Record<string, string>) {
  const chain = await (await fetch(`${base}/pki/ca.pem`)).text()
  const kids = ((await (await fetch(`${base}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid).sort()
  const clients = await runCli(['clients', 'list', '--json'], env)
  assert.equal(clients.code, 0, clients.stderr)
  const ids = (JSON.parse(clients.stdout) as { client_id: string }[]).map((c) => c.client_id).sort()
  return { chain, kids, ids }
}

describe('backup and restore (docs/operations.md)', { skip: NEEDS_POSTGRES || NEEDS_PG_DUMP }, () => {
  const cleanups: (() => Promise<unknown>)[] = []
  after(async () => { for (const c of cleanups.reverse()) await c() })

  it('a dump restored into an empty database serves the same CA, keys and clients with the same master key, and refuses another key', async () => {
    const schema = await createTestSchema()
    cleanups.push(schema.dropSchema)
    const port = await freePort()
    const masterKey = newMasterKey()
    const env = { ...schema.env, POSTCERT_MASTER_KEY: masterKey, PORT: String(port), DATA_DIR: tempDir(), NODE_ENV: 'development', DEMO_RP_URL: 'off' }
    const base = `http://localhost:${port}`

    const first = await startServerProcess(env)
    const added = await runCli(['clients', 'add', '--name', '복원 확인 은행', '--redirect-uri', 'https://bank.example/cb'], env)
    assert.equal(added.code, 0, added.stderr)
    const before = await state(base, env)
    assert.equal(before.ids.length, 2, 'the portal and the bank')
    assert.equal(await first.stop(), 0)

    // pg_dump --format=custom as the owner (the runbook dumps the whole database; here, this test's schema).
    const dump = path.join(tempDir(), 'postcert.dump')
    const owner = new URL(schema.ownerUrl)
    owner.searchParams.delete('options')
    execFileSync('pg_dump', ['--format=custom', `--schema=${schema.schema}`, `--file=${dump}`, owner.href])
    assert.ok(fs.statSync(dump).size > 0)

    // The database is lost.
    const admin = new pg.Client({ connectionString: owner.href })
    await admin.connect()
    await admin.query(`drop schema ${schema.schema} cascade`)
    await admin.end()

    execFileSync('pg_restore', [`--dbname=${owner.href}`, '--no-owner', '--exit-on-error', dump])

    // Another master key: start-up stops with one line before anything is served.
    const wrong = spawnSync(process.execPath, [SERVER_MAIN], {
      cwd: ROOT, encoding: 'utf8', timeout: 60_000, env: childEnv({ ...env, POSTCERT_MASTER_KEY: newMasterKey() }),
    })
    assert.notEqual(wrong.status, 0)
    assert.match(wrong.stderr, /POSTCERT_MASTER_KEY does not match the key this database was set up with/)

    const second = await startServerProcess(env)
    cleanups.push(() => second.stop())
    assert.deepEqual(await state(base, env), before)
    assert.equal(await second.stop(), 0)
  })
})
