import assert from 'node:assert/strict'
import http from 'node:http'
import { describe, it } from 'node:test'
import { newMasterKey, runCli, startServerProcess } from '../helpers/process.ts'
import { freePort, tempDir } from '../helpers/server.ts'

describe('graceful shutdown', () => {
  it('on SIGTERM stops accepting, finishes the request in flight, and exits 0', async () => {
    const port = await freePort()
    const env = { PORT: String(port), DATA_DIR: tempDir(), POSTCERT_MASTER_KEY: newMasterKey() }
    const added = await runCli(['clients', 'add', '--name', 'Slow Bank', '--grant-type', 'client_credentials'], env)
    assert.equal(added.code, 0, added.stderr)
    const { client_id, client_secret } = JSON.parse(added.stdout)
    const server = await startServerProcess(env)

    // A token request whose body arrives in two parts, with SIGTERM in between.
    const body = 'grant_type=client_credentials'
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1', port, method: 'POST', path: '/token',
        headers: {
          'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body),
          authorization: `Basic ${Buffer.from(`${client_id}:${client_secret}`).toString('base64')}`,
        },
      }, (res) => {
        let text = ''
        res.on('data', (d) => { text += d })
        res.on('end', () => resolve({ status: res.statusCode!, body: text }))
      })
      req.on('error', reject)
      req.write(body.slice(0, 10))
      setTimeout(() => {
        server.child.kill('SIGTERM')
        setTimeout(() => {
          // A failed check fails the test (reject), not the process (an unhandled rejection).
          assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'no new connections once draining').then(() => req.end(body.slice(10)), reject)
        }, 500)
      }, 300)
    })
    const { status, body: text } = await response
    assert.equal(status, 200)
    assert.ok(JSON.parse(text).access_token)
    assert.equal(await server.stop(), 0)
    assert.match(server.output(), /"msg":"PostCert stopped"/)
  })
})
