import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { createTestSchema, NEEDS_POSTGRES } from '../helpers/db.ts'
import { newMasterKey, startServerProcess, type ServerProcess } from '../helpers/process.ts'
import { freePort, tempDir } from '../helpers/server.ts'

/** pids of the workers that logged a message, in order. */
const workerPids = (output: string, msg: string) =>
  output.split('\n').filter((l) => l.includes(`"msg":"${msg}"`) && l.includes('"worker"')).map((l) => JSON.parse(l).pid as number)

async function until(check: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe('WEB_CONCURRENCY: several server processes on one port', { skip: NEEDS_POSTGRES }, () => {
  let server: ServerProcess | undefined
  let dropSchema = async () => {}
  after(async () => {
    await server?.stop()
    await dropSchema()
  })

  it('serves from every worker, replaces one that dies, and stops them all on SIGTERM', async () => {
    const schema = await createTestSchema()
    dropSchema = schema.dropSchema
    const port = await freePort()
    server = await startServerProcess({ ...schema.env, POSTCERT_MASTER_KEY: newMasterKey(), PORT: String(port), DATA_DIR: tempDir(), WEB_CONCURRENCY: '2' })
    await until(() => workerPids(server!.output(), 'PostCert listening').length === 2, 'two workers')
    const [first, second] = workerPids(server.output(), 'PostCert listening')
    assert.notEqual(first, second)

    // Requests are spread over the workers; every answer is a whole one.
    const answers = await Promise.all(Array.from({ length: 40 }, () => fetch(`http://127.0.0.1:${port}/.well-known/openid-configuration`).then((r) => r.status)))
    assert.deepEqual(new Set(answers), new Set([200]))

    // /metrics, whichever worker answers it, counts every worker's requests (the supervisor sums them).
    const served = (text: string) => Number(/^postcert_http_requests_total\{method="GET",route="discovery",status="200"\} (\d+)$/m.exec(text)?.[1])
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`)
      assert.equal(res.status, 200)
      const text = await res.text()
      assert.equal(served(text), 40, text.slice(0, 2000))
    }

    // A worker that dies while serving is replaced; the port keeps answering meanwhile.
    process.kill(first!, 'SIGKILL')
    await until(() => workerPids(server!.output(), 'PostCert listening').length === 3, 'a replacement worker')
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200)

    const code = await server.stop()
    assert.equal(code, 0)
    assert.equal(workerPids(server.output(), 'PostCert stopped').length, 2, 'both running workers drained and stopped')
    assert.match(server.output(), /"role":"supervisor".*"msg":"PostCert stopped"/)
    server = undefined
  })

  it('stops with an error when workers cannot start, instead of restarting them forever', async () => {
    const port = await freePort()
    const closed = await freePort() // nothing listens there
    await assert.rejects(
      startServerProcess({ DATABASE_URL: `postgres://postgres@127.0.0.1:${closed}/none`, POSTCERT_MASTER_KEY: newMasterKey(), PORT: String(port), DATA_DIR: tempDir(), WEB_CONCURRENCY: '2' }, { timeoutMs: 30_000 }),
      (err: Error) => /server exited during start-up/.test(err.message) && /a worker failed to start; stopping/.test(err.message),
    )
  })

  it('refuses several workers on the embedded database', async () => {
    const port = await freePort()
    await assert.rejects(
      startServerProcess({ PORT: String(port), DATA_DIR: tempDir(), WEB_CONCURRENCY: '2' }),
      (err: Error) => /WEB_CONCURRENCY above 1 needs DATABASE_URL/.test(err.message),
    )
  })
})
