import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { BACKENDS, createTestSchema } from '../helpers/db.ts'
import { childEnv, newMasterKey, ROOT, runCli } from '../helpers/process.ts'
import { tempDir } from '../helpers/server.ts'
import { loadPlans } from './docs-table.ts'

const CONFIGS = path.join(ROOT, 'conformance')

describe('conformance/: the official suite\'s configuration', () => {
  let env: Record<string, string>
  let dropSchema = async () => {}
  before(async () => {
    env = { DATA_DIR: tempDir(), POSTCERT_MASTER_KEY: newMasterKey(), PUBLIC_URL: 'http://localhost:3999', POSTCERT_TEST_MODE: 'true' }
    if (BACKENDS.includes('postgres')) {
      const schema = await createTestSchema()
      Object.assign(env, schema.env)
      dropSchema = schema.dropSchema
    }
  })
  after(async () => { await dropSchema() })

  it('names only modules the plans have, in its overrides', async () => {
    const modules = new Set((await loadPlans()).flatMap((p) => Object.keys(p.modules)))
    for (const file of fs.readdirSync(CONFIGS).filter((f) => f.endsWith('.json'))) {
      const config = JSON.parse(fs.readFileSync(path.join(CONFIGS, file), 'utf8'))
      for (const name of Object.keys(config.override ?? {})) assert.ok(modules.has(name), `${file}: ${name} is a module`)
    }
  })

  it('is filled in by conformance:prepare: a token, two FAPI clients and their keys', async () => {
    const out = tempDir('postcert-conformance-')
    const child = spawn(process.execPath, [path.join(CONFIGS, 'prepare.ts'), '--host', 'id.postcert.test', '--suite', 'https://suite.example.org/', '--out', out], {
      cwd: ROOT, env: childEnv({ LOG_LEVEL: 'warn', ...env }), stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    assert.equal(await new Promise((resolve) => child.once('exit', resolve)), 0, stderr)
    const summary = JSON.parse(stdout)
    for (const file of fs.readdirSync(CONFIGS).filter((f) => f.endsWith('.json'))) {
      const text = fs.readFileSync(path.join(out, file), 'utf8')
      assert.doesNotMatch(text, /\{[A-Z_0-9]+\}/, `${file} has no placeholder left`)
      assert.equal(fs.statSync(path.join(out, file)).mode & 0o077, 0, `${file} is private`)
      JSON.parse(text)
    }
    const basic = JSON.parse(fs.readFileSync(path.join(out, 'oidcc-basic.json'), 'utf8'))
    assert.equal(basic.server.discoveryUrl, 'https://id.postcert.test/.well-known/openid-configuration')
    assert.ok(basic.client.initial_access_token.length > 20)
    const fapi = JSON.parse(fs.readFileSync(path.join(out, 'fapi2-security-profile-final.json'), 'utf8'))
    assert.deepEqual([fapi.client.client_id, fapi.client2.client_id], summary.fapi_clients)
    assert.ok(fapi.client.jwks.keys[0].d, 'the private key for the suite')
    // The clients exist, under the FAPI profile, with the public key only.
    const shown = await runCli(['clients', 'show', fapi.client2.client_id], env)
    assert.equal(shown.code, 0, shown.stderr)
    const stored = JSON.parse(shown.stdout)
    assert.equal(stored.postcert_fapi_profile, '2.0')
    assert.deepEqual(stored.redirect_uris, ['https://suite.example.org/test/a/postcert-fapi/callback?dummy1=lorem&dummy2=ipsum'])
    assert.equal(stored.jwks.keys[0].d, undefined)
  })
})
