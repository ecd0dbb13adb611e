import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, describe, it } from 'node:test'
import * as client from 'openid-client'
import { BACKENDS, createTestSchema } from '../helpers/db.ts'
import { procStats, runCli, startServerProcess } from '../helpers/process.ts'
import { freePort, tempDir } from '../helpers/server.ts'

/** The environment of the Node process that serves (dist/src/main.js) among those in a process group (npm and its shell may stand between). */
function servingEnvironment(group: number): Record<string, string> {
  for (const [pid] of procStats().filter(([, fields]) => Number(fields[2]) === group)) {
    try {
      const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')
      if (path.basename(argv[0]!) !== 'node' || !argv.some((arg) => arg.endsWith(path.join('dist', 'src', 'main.js')))) continue
      return Object.fromEntries(fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]))
    } catch {
      // a process that ended meanwhile
    }
  }
  throw new Error(`no server process in group ${group}`)
}

const kids = async (base: string) =>
  ((await (await fetch(`${base}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid).sort()

for (const backend of BACKENDS) {
  describe(`npm start on a fresh ${backend === 'pglite' ? 'machine (embedded database)' : 'PostgreSQL schema'}`, () => {
    const cleanups: (() => Promise<unknown>)[] = []
    after(async () => { for (const c of cleanups.reverse()) await c() })

    it('serves discovery within seconds, and a restart keeps the JWKS key ids and the clients', async (t) => {
      const port = await freePort()
      const dataDir = tempDir()
      // Nothing but a port and a data directory: no master key, no database settings.
      const env: Record<string, string> = { PORT: String(port), DATA_DIR: dataDir, NODE_ENV: 'development' }
      if (backend === 'postgres') {
        const schema = await createTestSchema()
        Object.assign(env, schema.env)
        cleanups.push(schema.dropSchema)
      }
      const issuer = `http://localhost:${port}`

      const first = await startServerProcess(env, { command: 'npm', args: ['start', '--silent'] })
      cleanups.push(() => first.stop())
      const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json() as Record<string, unknown>
      t.diagnostic(`first start served /healthz after ${first.startedInMs} ms`)
      assert.ok(first.startedInMs < 30_000, `started in ${first.startedInMs} ms`)
      assert.equal(discovery.issuer, issuer)
      assert.equal(discovery.token_endpoint, `${issuer}/token`)
      assert.deepEqual(discovery.id_token_signing_alg_values_supported, ['ES256', 'PS256', 'RS256'])
      const keysBefore = await kids(issuer)
      // Two malloc arenas unless the operator says otherwise (#19: docs/sizing.md, Memory).
      assert.equal(servingEnvironment(first.child.pid!).MALLOC_ARENA_MAX, '2')
      assert.equal(keysBefore.length, 4, 'an active and a pre-published key for EC and RSA')
      if (backend === 'pglite') {
        const mode = fs.statSync(path.join(dataDir, 'master.key')).mode & 0o777
        assert.equal(mode, 0o600, 'the generated master key is readable by its owner only')
      }
      // Development registers the demo relying party and leaves its credentials for `npm run demo-rp`.
      const demoFile = path.join(dataDir, 'demo-rp-client.json')
      const demo = JSON.parse(fs.readFileSync(demoFile, 'utf8'))
      assert.equal(fs.statSync(demoFile).mode & 0o777, 0o600)
      assert.deepEqual({ issuer: demo.issuer, client_id: demo.client_id, redirect_uri: demo.redirect_uri },
        { issuer, client_id: 'postcert-demo-rp', redirect_uri: 'http://localhost:4000/callback' })
      await first.stop()
      assert.match(first.output(), /"msg":"PostCert stopped"/, 'SIGTERM shuts down cleanly')

      const added = await runCli(['clients', 'add', '--name', 'Restart Bank', '--grant-type', 'client_credentials'], env)
      assert.equal(added.code, 0, added.stderr)
      const { client_id, client_secret } = JSON.parse(added.stdout)

      const second = await startServerProcess({ ...env, MALLOC_ARENA_MAX: '4' }, { command: 'npm', args: ['start', '--silent'] })
      cleanups.push(() => second.stop())
      assert.equal(servingEnvironment(second.child.pid!).MALLOC_ARENA_MAX, '4', 'the operator\'s own setting is kept')
      assert.deepEqual(await kids(issuer), keysBefore)
      const config = await client.discovery(new URL(issuer), client_id, {}, client.ClientSecretBasic(client_secret), { execute: [client.allowInsecureRequests] })
      const { access_token } = await client.clientCredentialsGrant(config)
      assert.equal((await client.tokenIntrospection(config, access_token)).active, true)
      // The demo client survives the restart with the same secret, which still authenticates.
      assert.deepEqual(JSON.parse(fs.readFileSync(demoFile, 'utf8')), demo)
      const demoConfig = await client.discovery(new URL(issuer), demo.client_id, {}, client.ClientSecretBasic(demo.client_secret), { execute: [client.allowInsecureRequests] })
      assert.equal((await client.tokenIntrospection(demoConfig, 'not-a-token')).active, false, 'the demo client authenticates')
      await second.stop()
    })
  })
}
