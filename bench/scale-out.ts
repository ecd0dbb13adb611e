// Scale-out on a real engine: N PostCert nodes (one process each, nothing shared but the
// database) behind haproxy on one PostgreSQL. Throughput through the proxy with 1..N nodes, then
// a run of logins, signatures and tokens together during which one node is killed (SIGKILL):
// what failed and when, and whether anything was left half-written. Run by hand (not in CI):
//   apt-get install -y haproxy
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:scale-out -- [options]
//     --nodes N          the most nodes (3); throughput is measured with 1, 2, ... N behind the proxy
//     --seconds N        per workload and node count (10); the kill run lasts twice as long
//     --connections N    concurrent connections, or browsers for logins and signatures (16)
//     --keep             keep the schema afterwards (its name is printed), to look into
//     --replica          a PostgreSQL primary with a streaming replica of its own (bench/replica.ts,
//                        on ports of their own; DATABASE_URL is not used): the nodes read
//                        certificate statuses from the replica (DATABASE_READ_URL)
// After the kill run, a certificate is revoked from the CLI and live OCSP requests (with a nonce)
// through the proxy show how soon every node answers revoked; then its file is tried for logins
// and signatures on every node, as a thief would.
// It creates its own schema and drops it afterwards unless kept. The proxy passes the client's
// X-Forwarded-For through, as an internal balancer behind the operator's TLS proxy does
// (TRUST_PROXY=true, one hop): each benchmark browser comes from an address of its own.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import pg from 'pg'
import { singleStatus } from '../src/ca/ocsp.ts'
import { x509 } from '../src/ca/x509.ts'
import { storageKeySql } from '../src/oidc/adapter.ts'
import { agent, basic, benchSchema, LoginDriver, postForm, prepareLogins } from './flows.ts'
import { loop } from './loop.ts'
import { ocspRequestsFor } from './ocsp-requests.ts'
import { ReplicaPair } from './replica.ts'
import { newMasterKey, runCli, START_ARGS, START_ENV, startServerProcess, type ServerProcess } from '../test/helpers/process.ts'
import { freePort, tempDir } from '../test/helpers/server.ts'

const { values: args } = parseArgs({
  options: { nodes: { type: 'string', default: '3' }, seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '16' }, keep: { type: 'boolean', default: false }, replica: { type: 'boolean', default: false } },
})
const nodeCount = Number(args.nodes)
const seconds = Number(args.seconds)
const connections = Number(args.connections)
if (!process.env.DATABASE_URL && !args.replica) {
  console.error('set DATABASE_URL (the nodes share one PostgreSQL), or give --replica')
  process.exit(2)
}
if (!Number.isInteger(nodeCount) || nodeCount < 2) {
  console.error('--nodes must be 2 or more (one is killed)')
  process.exit(2)
}

/** haproxy in front of the first `n` nodes: round robin, readiness checks every 300 ms, a refused connection retried on another node. */
class Balancer {
  readonly #child: ChildProcess
  #log = ''

  private constructor(child: ChildProcess) {
    this.#child = child
    child.stderr!.on('data', (d) => { this.#log += `${Date.now()} ${d}` })
    child.stdout!.on('data', (d) => { this.#log += `${Date.now()} ${d}` })
  }

  static async start(n: number): Promise<Balancer> {
    const config = path.join(work, 'haproxy.cfg')
    fs.writeFileSync(config, [
      'global', '  maxconn 4096',
      // A health check has 2 s to answer: with the check interval as its timeout (300 ms), a node
      // busy with the warm-up's 64 parallel logins on 2 cores was marked down (503 for everything).
      'defaults', '  mode http', '  timeout connect 2s', '  timeout client 30s', '  timeout server 30s', '  timeout check 2s',
      // A connection the node refused never reached it: safe to send elsewhere. Nothing that
      // reached a node is sent again (a POST may have done its work).
      '  retries 3', '  option redispatch 1', '  retry-on conn-failure',
      'frontend postcert', `  bind 127.0.0.1:${proxyPort}`, '  default_backend nodes',
      'backend nodes', '  balance roundrobin', '  option httpchk GET /readyz', '  default-server inter 300ms fall 2 rise 2',
      ...nodes.slice(0, n).map((node, i) => `  server node${i + 1} 127.0.0.1:${node.port} check`),
    ].join('\n') + '\n')
    const child = spawn('haproxy', ['-f', config, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const proxy = new Balancer(child)
    const deadline = Date.now() + 10_000
    for (;;) {
      if (child.exitCode !== null) throw new Error(`haproxy exited: ${proxy.#log}`)
      try {
        if ((await fetch(`${issuer}/healthz`)).ok) return proxy
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`haproxy did not answer: ${proxy.#log}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  /** When haproxy logged a node going down, if it did. */
  downAt(): number | undefined {
    const line = this.#log.split('\n').find((l) => / is DOWN/.test(l))
    return line ? Number(line.split(' ')[0]) : undefined
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return
    const exited = new Promise((r) => this.#child.once('exit', r))
    this.#child.kill('SIGTERM')
    await exited
  }
}

const pair = args.replica ? await ReplicaPair.start() : undefined
if (pair) process.env.DATABASE_URL = pair.primaryUrl
const schema = await benchSchema()
const proxyPort = await freePort()
const issuer = `http://127.0.0.1:${proxyPort}`
const redirectUri = 'https://bench.example.kr/cb'
const masterKey = Buffer.from(newMasterKey(), 'base64url')
const work = tempDir('postcert-scale-out-')
const env = { ...START_ENV, ...schema.env, PUBLIC_URL: issuer, POSTCERT_MASTER_KEY: masterKey.toString('base64url'), LOG_LEVEL: 'warn', TRUST_PROXY: 'true', DATA_DIR: path.join(work, 'cli'),
  // The same schema and role on the replica.
  ...(pair ? { DATABASE_READ_URL: Object.assign(new URL(schema.env.DATABASE_URL!), { port: new URL(pair.replicaUrl).port }).href } : {}) }

console.log('preparing ...')
const { rp, holders } = await prepareLogins(schema, { issuer, masterKey, redirectUri, subscribers: 64 })
const ocsp = await ocspRequestsFor(holders)
const service = JSON.parse((await runCli(['clients', 'add', '--name', 'Bench Service', '--grant-type', 'client_credentials'], env)).stdout) as { client_id: string; client_secret: string }
const nodes: { port: number; server: ServerProcess }[] = []
for (let i = 0; i < nodeCount; i++) {
  const port = await freePort()
  nodes.push({ port, server: await startServerProcess({ ...env, PORT: String(port), DATA_DIR: path.join(work, `node-${i + 1}`) }, { args: START_ARGS }) })
}
let proxy: Balancer | undefined

try {
  proxy = await Balancer.start(nodes.length)
  const driver = await LoginDriver.discover(issuer, redirectUri, rp)
  // Warm-up, not measured: every subscriber logs in once (its registration at the institution).
  await Promise.all(holders.map((h) => driver.flow(h)))
  await proxy.stop()
  const holderOf = (worker: number, i: number) => holders[(worker + i * connections) % holders.length]!

  console.log(`\nthrough haproxy: ${seconds} s per workload, ${connections} connections; nodes, PostgreSQL${pair ? ' (primary and replica)' : ''}, haproxy and this load generator on ${os.availableParallelism()} cores`)
  console.log(`${'nodes'.padEnd(6)} ${'tokens/s'.padStart(10)} ${'logins/s'.padStart(10)} ${'signatures/s'.padStart(13)} ${'OCSP live/s'.padStart(12)} ${'errors'.padStart(7)}`)
  for (let n = 1; n <= nodes.length; n++) {
    proxy = await Balancer.start(n)
    const tokens = await autocannon({ url: `${issuer}/token`, method: 'POST', duration: seconds, connections, headers: { authorization: basic(service), 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' })
    const logins = await loop({ workers: connections, seconds }, async (worker, i) => { await driver.flow(holderOf(worker, i)) })
    const signatures = await loop({ workers: connections, seconds }, async (worker, i) => { await driver.sign(holderOf(worker, i)) })
    const statuses = await autocannon({ url: `${issuer}/pki/ocsp`, method: 'POST', duration: seconds, connections, headers: { 'content-type': 'application/ocsp-request' }, body: ocsp.withNonce })
    await proxy.stop()
    const errors = tokens.non2xx + tokens.errors + logins.errors + signatures.errors + statuses.non2xx + statuses.errors
    const rate = (result: autocannon.Result) => ((result.requests.total - result.non2xx) / seconds).toFixed(0)
    console.log(`${String(n).padEnd(6)} ${rate(tokens).padStart(10)} ${(logins.ops / seconds).toFixed(0).padStart(10)} ${(signatures.ops / seconds).toFixed(1).padStart(13)} ${rate(statuses).padStart(12)} ${String(errors).padStart(7)}`)
  }

  // The kill run: logins, signatures and tokens at once through all the nodes; the last node is
  // SIGKILLed halfway (no shutdown: its in-flight requests and open transactions are cut).
  proxy = await Balancer.start(nodes.length)
  const timeline = new Map<number, { ok: number; failed: number }>()
  const started = Date.now()
  const killAt = started + seconds * 1000
  const record = (ok: boolean, at: number) => {
    const second = Math.floor((at - killAt) / 1000)
    const bucket = timeline.get(second) ?? { ok: 0, failed: 0 }
    if (ok) bucket.ok++
    else bucket.failed++
    timeline.set(second, bucket)
  }
  const victim = nodes.at(-1)!
  const kill = (async () => {
    await new Promise((r) => setTimeout(r, killAt - Date.now()))
    process.kill(-victim.server.child.pid!, 'SIGKILL')
  })()
  const share = Math.max(1, Math.floor(connections / 4))
  const [logins, signatures, tokens] = await Promise.all([
    loop({ workers: connections - 2 * share, seconds: 2 * seconds, onDone: record }, async (worker, i) => { await driver.flow(holderOf(worker, i)) }),
    loop({ workers: share, seconds: 2 * seconds, onDone: record }, async (worker, i) => { await driver.sign(holderOf(worker + 7, i)) }),
    loop({ workers: share, seconds: 2 * seconds, onDone: record }, async () => {
      const answer = await postForm(`${issuer}/token`, 'grant_type=client_credentials', basic(service))
      if (answer.status !== 200) throw new Error(`token: ${answer.status}`)
    }),
  ])
  await kill
  await proxy.stop()

  console.log(`\nkill run: ${nodes.length} nodes for ${seconds} s, node ${nodes.length} SIGKILLed, then ${seconds} s on the others (${connections} browsers and connections)`)
  console.log(`  logins ${logins.ops} (${logins.errors} failed), signatures ${signatures.ops} (${signatures.errors} failed), tokens ${tokens.ops} (${tokens.errors} failed)`)
  const down = proxy.downAt()
  console.log(`  haproxy marked the node down ${down === undefined ? '(never)' : `${((down - killAt) / 1000).toFixed(1)} s after the kill`}`)
  console.log('  second (0 = the kill)   completed  failed')
  for (const second of [...timeline.keys()].sort((a, b) => a - b)) {
    const { ok, failed } = timeline.get(second)!
    if (second >= -3 && second <= 4) console.log(`  ${String(second).padStart(6)} ${String(ok).padStart(24)} ${String(failed).padStart(7)}`)
  }
  const window = (from: number, to: number) => [...timeline].filter(([s]) => s >= from && s < to).reduce((sum, [, b]) => ({ ok: sum.ok + b.ok, failed: sum.failed + b.failed }), { ok: 0, failed: 0 })
  const before = window(-seconds, 0)
  // From when the proxy has surely noticed (2 s, or less in a short run) to the end.
  const settled = Math.min(2, seconds - 1)
  const after = window(settled, seconds)
  console.log(`  before the kill: ${(before.ok / seconds).toFixed(0)} operations/s, ${before.failed} failed; from ${settled} s after it: ${(after.ok / (seconds - settled)).toFixed(0)} operations/s, ${after.failed} failed`)
  await consistency()
  proxy = await Balancer.start(nodes.length - 1)
  await revocationReach()
  await proxy.stop()
} finally {
  await proxy?.stop()
  for (const { server } of nodes) await server.stop()
  agent.destroy()
  if (args.keep) console.log(`schema ${schema.schema} kept`)
  else await schema.dropSchema()
  await pair?.stop()
  fs.rmSync(work, { recursive: true, force: true })
}

/**
 * How soon a revocation reaches live OCSP answers on every node: the first holder's certificate is
 * revoked from the CLI (another process, as an operator would), while requests with a nonce go
 * through the proxy to the nodes in turn; reported from the CLI's exit (its commit came before).
 */
async function revocationReach(): Promise<void> {
  const serial = new x509.X509Certificate(holders[0]!.chain[0]!).serialNumber
  const ask = async () => {
    const res = await fetch(`${issuer}/pki/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: ocsp.withNonce })
    return singleStatus(new Uint8Array(await res.arrayBuffer()))
  }
  assert(await ask() === 'good', 'the certificate is good before its revocation')
  const revoked = await runCli(['certificates', 'revoke', serial, '--reason', 'keyCompromise', '--yes'], env)
  if (revoked.code !== 0) throw new Error(`revoke: ${revoked.stderr}`)
  const committed = performance.now()
  let first: number | undefined
  let lastGood: number | undefined
  let answers = 0
  while (performance.now() - committed < 2_500) {
    const answer = await ask()
    const at = performance.now() - committed
    answers++
    if (answer === 'revoked') first ??= at
    else lastGood = at
  }
  console.log(`\nrevocation reach (${answers} live OCSP answers over 2.5 s through the proxy, ${nodes.length - 1} nodes${pair ? ', statuses read from the replica' : ''}):`)
  console.log(`  first 'revoked' ${first?.toFixed(0) ?? '(never)'} ms after the CLI's exit; last 'good' ${lastGood === undefined ? '(none after the exit)' : `${lastGood.toFixed(0)} ms after it`}`)
  // A thief holding the revoked certificate file tries it on every node, for a login and a signature.
  const driver = await LoginDriver.discover(issuer, redirectUri, rp)
  const tries = 4 * (nodes.length - 1)
  const outcomes = await Promise.all(Array.from({ length: tries }, (_, i) => (i % 2 ? driver.sign(holders[0]!) : driver.flow(holders[0]!)).then(() => 'accepted', (err: Error) => err.message.slice(0, 60))))
  const accepted = outcomes.filter((o) => o === 'accepted').length
  console.log(`  the revoked certificate file, tried ${tries} times (logins and signatures, over the nodes): ${accepted} accepted; refused with ${[...new Set(outcomes.filter((o) => o !== 'accepted'))].join(' | ')}`)
  if (pair) {
    // Statistics reach the views within about a second of a statement.
    await new Promise((r) => setTimeout(r, 1500))
    const scans = await pair.scans(schema.schema, 'certificate')
    console.log(`  the replica's replay lag at the end: ${await pair.lagBytes()} bytes of WAL; scans of the certificate table over the whole run: ${scans.replica} on the replica, ${scans.primary} on the primary`)
  }
}

/**
 * What a write cut short would leave behind: tokens or codes whose grant is gone, signatures
 * without their audit event or their receipt's key, sessions whose login a revocation could not
 * find.
 */
async function consistency(): Promise<void> {
  const db = new pg.Client({ connectionString: schema.url })
  await db.connect()
  try {
    const checks: [string, string][] = [
      ['tokens and codes without their grant', `select count(*) from oidc_payload t where t.model in ('AccessToken', 'RefreshToken', 'AuthorizationCode') and t.grant_id is not null
        and not exists (select 1 from oidc_payload g where g.model = 'Grant' and g.id = ${storageKeySql('t.grant_id')})`],
      ['signatures without their audit event', `select count(*) from signature s where not exists (select 1 from audit_event a where a.type = 'signature' and a.data::jsonb ->> 'signature' = s.id)`],
      ['signatures whose receipt key is not kept', `select count(*) from signature s where not exists (select 1 from receipt_key k where k.kid = convert_from(decode(translate(split_part(s.receipt, '.', 1), '-_', '+/') || repeat('=', (4 - length(split_part(s.receipt, '.', 1)) % 4) % 4), 'base64'), 'utf8')::jsonb ->> 'kid')`],
      ['sessions that a revocation would not find (no login record)', `select count(*) from oidc_payload s where s.model = 'Session' and s.payload::jsonb ? 'accountId'
        and not exists (select 1 from login_session l where l.session_uid = s.uid and l.auth_time = (s.payload::jsonb ->> 'loginTs')::bigint)`],
    ]
    console.log('  consistency after the kill:')
    for (const [what, query] of checks) {
      const { rows } = await db.query<{ count: number }>(query)
      console.log(`    ${what}: ${rows[0]!.count}`)
    }
    // The other direction is by design: a login's record is written before the session it opens,
    // so that a revocation always finds what the login opened; a node killed between the two
    // leaves a record of a login that opened nothing, which expires with it.
    const ahead = await db.query<{ count: number }>(`select count(*) from login_session l where not exists (select 1 from oidc_payload s where s.model = 'Session' and s.uid = l.session_uid)`)
    console.log(`    (login records of a session never stored, left by design: ${ahead.rows[0]!.count})`)
    const totals = await db.query<{ signatures: number; sessions: number; tokens: number }>(`select (select count(*) from signature) as signatures,
      (select count(*) from oidc_payload where model = 'Session' and payload::jsonb ? 'accountId') as sessions,
      (select count(*) from oidc_payload where model in ('AccessToken', 'AuthorizationCode')) as tokens`)
    console.log(`    (rows checked: ${totals.rows[0]!.signatures} signatures, ${totals.rows[0]!.sessions} logged-in sessions, ${totals.rows[0]!.tokens} codes and access tokens)`)
  } finally {
    await db.end()
  }
}
