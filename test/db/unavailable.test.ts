import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { promisify } from 'node:util'
import pino from 'pino'
import { connectDatabase } from '../../src/db/connect.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { createTestSchema, NEEDS_POSTGRES } from '../helpers/db.ts'
import { startTestServer, tempDir, type TestServer } from '../helpers/server.ts'
import { LoginHarness } from '../login/harness.ts'

/**
 * A TCP relay between PostCert and PostgreSQL that can fail the way networks and servers do:
 * `down` (connections reset, new ones refused: the server stopped) and `frozen` (connections
 * accepted, nothing delivered either way: a partition or a frozen server).
 */
class FaultyRelay {
  mode: 'up' | 'down' | 'frozen' = 'up'
  readonly #sockets = new Set<net.Socket>()
  readonly #server: net.Server
  port = 0

  constructor(target: { host: string; port: number }) {
    this.#server = net.createServer((client) => {
      if (this.mode === 'down') {
        client.destroy()
        return
      }
      const upstream = net.connect(target)
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket)
        socket.on('close', () => this.#sockets.delete(socket))
        socket.on('error', () => { client.destroy(); upstream.destroy() })
      }
      client.on('data', (data) => { if (this.mode === 'up') upstream.write(data) })
      upstream.on('data', (data) => { if (this.mode === 'up') client.write(data) })
      client.on('end', () => upstream.end())
      upstream.on('end', () => client.end())
    })
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve))
    this.port = (this.#server.address() as net.AddressInfo).port
  }

  down(): void {
    this.mode = 'down'
    for (const socket of this.#sockets) socket.destroy()
  }

  freeze(): void {
    this.mode = 'frozen'
  }

  /** Back up; connections that lost bytes while frozen are cut, as a restarted server would. */
  up(): void {
    for (const socket of this.#sockets) socket.destroy()
    this.mode = 'up'
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    await new Promise((resolve) => this.#server.close(resolve))
  }
}

describe('PostgreSQL down or hanging: 503 with Retry-After, fast, and back when it is back', { skip: NEEDS_POSTGRES }, () => {
  let relay: FaultyRelay
  let server: TestServer
  let h: LoginHarness
  let rp: Awaited<ReturnType<LoginHarness['relyingParty']>>
  let ocspRequest: Buffer
  const logged: Array<Record<string, unknown>> = []
  let dropSchema = async () => {}

  before(async () => {
    const schema = await createTestSchema()
    dropSchema = schema.dropSchema
    const url = new URL(schema.url)
    relay = new FaultyRelay({ host: url.hostname, port: Number(url.port || 5432) })
    await relay.listen()
    url.hostname = '127.0.0.1'
    url.port = String(relay.port)
    const db = connectDatabase({ kind: 'postgres', url: url.href }, { connectMs: 500, statementMs: 1_000, lockMs: 500, queryMs: 1_000, idleInTransactionMs: 5_000 })
    // Migrations, as the owner, go straight to PostgreSQL.
    const ownerDb = connectDatabase({ kind: 'postgres', url: schema.ownerUrl })
    const clock = new ManualClock()
    const logger = pino({ level: 'info' }, { write: (line: string) => { logged.push(JSON.parse(line) as Record<string, unknown>) } })
    server = await startTestServer({
      database: {
        backend: 'postgres', db, ownerDb, url: url.href, env: {},
        drop: async () => { await db.destroy(); await ownerDb.destroy(); await dropSchema() },
        dropData: async () => { await ownerDb.destroy(); await dropSchema() },
      },
      overrides: { clock, logger },
    })
    h = new LoginHarness(server, clock)
    rp = await h.relyingParty({ name: '재시도은행', redirectUri: 'https://retry.example.kr/cb' })
    // An OCSP request for some serial, as openssl writes it.
    const dir = tempDir()
    fs.writeFileSync(path.join(dir, 'issuing.pem'), (await server.ctx.ca.issuing()).certificate.toString('pem'))
    await promisify(execFile)('openssl', ['ocsp', '-issuer', path.join(dir, 'issuing.pem'), '-serial', '0x1234567890abcdef', '-no_nonce', '-reqout', path.join(dir, 'req.der')])
    ocspRequest = fs.readFileSync(path.join(dir, 'req.der'))
  })
  after(async () => {
    relay.up()
    await server?.close()
    await relay.close()
  })

  const token = () => fetch(`${server.url}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${rp.clientId}:${rp.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: 'x'.repeat(43), redirect_uri: rp.redirectUri }),
  })
  const ocsp = () => fetch(`${server.url}/pki/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: ocspRequest })

  /** Each endpoint answers 503 temporarily_unavailable with Retry-After, within `withinMs`. */
  async function assertUnavailable(withinMs: number): Promise<void> {
    for (const [name, call] of [['token', token], ['ocsp', ocsp]] as const) {
      const started = Date.now()
      const res = await call()
      const took = Date.now() - started
      assert.equal(res.status, 503, `${name}: ${res.status} ${await res.clone().text()}`)
      assert.equal(res.headers.get('retry-after'), '5', name)
      assert.deepEqual(await res.json(), { error: 'temporarily_unavailable', error_description: 'the database is unavailable: try again in a few seconds' }, name)
      assert.ok(took < withinMs, `${name} took ${took} ms`)
    }
    const health = await fetch(`${server.url}/healthz`)
    assert.equal(health.status, 200, '/healthz answers: the process is alive')
    const ready = await fetch(`${server.url}/readyz`)
    assert.equal(ready.status, 503, '/readyz says it cannot serve')
  }

  async function assertServing(): Promise<void> {
    const res = await token()
    assert.equal(res.status, 400)
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_grant')
    assert.equal((await ocsp()).status, 200)
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200)
  }

  it('serves through the relay', async () => {
    await assertServing()
  })

  it('down: 503 at once, one warning line per request and no stack; serving again when it is back', async () => {
    logged.length = 0
    relay.down()
    await assertUnavailable(2_000)
    const errors = logged.filter((line) => (line.level as number) >= 50)
    assert.deepEqual(errors, [], 'nothing at error level')
    assert.ok(logged.some((line) => line.msg === 'database unavailable'))
    assert.ok(!JSON.stringify(logged).includes('    at '), 'no stack trace in the log')
    relay.up()
    await assertServing()
  })

  it('frozen: 503 after the timeouts, not as long as the database hangs; serving again when it thaws', async () => {
    relay.freeze()
    // Pooled connections time out on their query (1 s), new ones on connecting (0.5 s).
    await assertUnavailable(3_000)
    relay.up()
    await assertServing()
  })

  for (const [name, target] of [
    ['oidc-provider\'s', '/auth?client_id=not-cached&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Fx.example.kr%2Fcb'],
    ['PostCert\'s', '/sandbox/sms'],
  ] as const) {
    it(`${name} pages answer a readable 503 page`, async () => {
      relay.down()
      const res = await fetch(`${server.url}${target}`, { headers: { accept: 'text/html' }, redirect: 'manual' })
      relay.up()
      assert.equal(res.status, 503)
      assert.equal(res.headers.get('retry-after'), '5')
      assert.match(res.headers.get('content-type') ?? '', /text\/html/)
      const html = await res.text()
      assert.match(html, /<html lang="ko"/)
      assert.ok(!html.includes('    at '))
    })
  }
})
