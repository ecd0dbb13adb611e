// The benchmark runner: every workload against one PostCert process on PostgreSQL, each with its
// rate, latency, errors and CPU ms per operation for the server (its process group) and for its
// own PostgreSQL backends (by application_name, not every postgres process on the machine), then
// the server's memory after the logins. Run by hand (not in CI):
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench -- [options]
//     --seconds N        per workload (10)
//     --connections N    concurrent connections, or browsers for logins (32: wrk -t2 -c32, as the
//                        issue's reference figures were measured)
//     --only a,b         these workloads only (discovery, client_credentials, client_credentials_jwt,
//                        introspection, refresh,
//                        logins, signatures, ocsp_live, ocsp_presigned, memory)
//     --sessions N       the memory row logs in until this many logins were made in all (10000)
//     --save FILE        where the results go as JSON (bench/results/<commit>.json by default)
//     --compare FILE     a saved run (e.g. the previous commit's) to print the change against
//     --generator G      wrk (Debian's package; the default where it is installed) or autocannon
//                        for the fixed-request workloads, and for refresh wrk or this script's
//                        own client; logins and signatures are driven by this script's own
//                        clients either way
// It creates its own schema and drops it afterwards. WEB_CONCURRENCY reaches the server, and so
// does SERVER_NODE_OPTIONS (as its NODE_OPTIONS), SERVER_MALLOC_ARENA_MAX (as MALLOC_ARENA_MAX; npm
// start's default otherwise) and SERVER_GLIBC_TUNABLES (as GLIBC_TUNABLES).
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { CpuMeter, ownCpuMs } from './cpu.ts'
import { agent, basic, benchTarget, LoginDriver, postForm, prepareLogins, refreshChains, refreshTokens, rotatingRefreshRequest, serverEnv } from './flows.ts'
import { loop } from './loop.ts'
import { ocspRequestsFor } from './ocsp-requests.ts'
import { rotatingTokensFor, runWrk, runWrkRotating, wrkInstalled, type LoadResult, type WrkRequest } from './wrk.ts'
import { runCli, START_ARGS, START_ENV, startServerProcess } from '../test/helpers/process.ts'
import { tempDir } from '../test/helpers/server.ts'

const WORKLOADS = ['discovery', 'client_credentials', 'client_credentials_jwt', 'introspection', 'refresh', 'logins', 'signatures', 'ocsp_live', 'ocsp_presigned', 'memory'] as const
type Workload = (typeof WORKLOADS)[number]

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '32' }, only: { type: 'string' },
    sessions: { type: 'string', default: '10000' }, save: { type: 'string' }, compare: { type: 'string' },
    generator: { type: 'string', default: wrkInstalled() ? 'wrk' : 'autocannon' },
  },
})
const seconds = Number(args.seconds)
const connections = Number(args.connections)
const only = new Set((args.only?.split(',') ?? WORKLOADS) as Workload[])
for (const name of only) {
  if (!WORKLOADS.includes(name)) {
    console.error(`unknown workload ${name}; one of ${WORKLOADS.join(', ')}`)
    process.exit(2)
  }
}
if (args.generator !== 'wrk' && args.generator !== 'autocannon') {
  console.error(`unknown generator ${args.generator}; wrk or autocannon`)
  process.exit(2)
}
if (!process.env.DATABASE_URL) {
  console.error('set DATABASE_URL (the benchmark measures PostCert on PostgreSQL)')
  process.exit(2)
}

/** One workload's figures; CPU in ms per operation. */
interface Row { name: string; unit: string; rate: number; p50: number; p99: number; errors: number; serverMs: number; postgresMs: number; generatorMs?: number; note?: string }

const commit = (() => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD']).toString().trim() + (execFileSync('git', ['status', '--porcelain', '--untracked-files=no']).toString().trim() ? '+changes' : '')
  } catch {
    return 'unknown'
  }
})()

const target = await benchTarget()
const { schema, port, issuer, redirectUri, masterKey, applicationName } = target
const dataDir = tempDir('postcert-bench-')
const env: Record<string, string | undefined> = { ...serverEnv(target, dataDir), WEB_CONCURRENCY: process.env.WEB_CONCURRENCY,
  NODE_OPTIONS: process.env.SERVER_NODE_OPTIONS, MALLOC_ARENA_MAX: process.env.SERVER_MALLOC_ARENA_MAX ?? START_ENV.MALLOC_ARENA_MAX, GLIBC_TUNABLES: process.env.SERVER_GLIBC_TUNABLES }

// Prepared before the server starts, not timed: subscribers with certificates, a relying party
// for logins and refresh, a client for client_credentials, OCSP requests for the certificates.
console.log(`preparing (${commit}) ...`)
const { rp, holders } = await prepareLogins(schema, { issuer, masterKey, redirectUri, subscribers: 64 })
const added = await runCli(['clients', 'add', '--name', 'Bench Service', '--grant-type', 'client_credentials'], env)
const service = JSON.parse(added.stdout) as { client_id: string; client_secret: string }
// An API that takes RFC 9068 JWT access tokens, for the client_credentials_jwt workload.
const JWT_API = 'https://api.bench.example/'
env.RESOURCE_SERVERS = JSON.stringify([{ resource: JWT_API, scope: 'bench', clients: [service.client_id], format: 'jwt' }])
const ocspRequests = await ocspRequestsFor(holders)
// With the Node flags `npm start` gives it, as it ships.
const server = await startServerProcess(env, { args: START_ARGS })
const meter = new CpuMeter(server.child.pid!, process.env.DATABASE_URL, applicationName)
await meter.open()
const driver = await LoginDriver.discover(issuer, redirectUri, rp)
const form = { 'content-type': 'application/x-www-form-urlencoded' }
let logins = 0
const rows: Row[] = []

try {
  // Warm-up, not measured: every subscriber logs in once (its registration at the institution).
  await Promise.all(holders.map((h) => driver.flow(h)))
  logins += holders.length
  console.log(`${seconds} s per workload, ${connections} connections, load from ${args.generator}; PostCert (${process.env.WEB_CONCURRENCY ?? 1} process(es)), PostgreSQL and this load generator on ${os.availableParallelism()} cores\n`)
  console.log(`${'workload'.padEnd(20)} ${'rate'.padStart(14)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'errors'.padStart(6)}   CPU ms/op: server  PostgreSQL  generator`)

  if (only.has('discovery')) await measure('discovery', 'req/s', () => load([{ method: 'GET', path: '/.well-known/openid-configuration' }]))
  if (only.has('client_credentials')) {
    await measure('client_credentials', 'tokens/s', () => load([{ method: 'POST', path: '/token', headers: { authorization: basic(service), ...form }, body: 'grant_type=client_credentials' }]))
  }
  if (only.has('client_credentials_jwt')) {
    await measure('client_credentials JWT', 'tokens/s', () => load([{ method: 'POST', path: '/token', headers: { authorization: basic(service), ...form }, body: `grant_type=client_credentials&scope=bench&resource=${encodeURIComponent(JWT_API)}` }]))
  }
  if (only.has('introspection')) {
    const token = (JSON.parse((await postForm(`${issuer}/token`, 'grant_type=client_credentials', basic(service))).text) as { access_token: string }).access_token
    await measure('introspection', 'req/s', () => load([{ method: 'POST', path: '/token/introspection', headers: { authorization: basic(service), ...form }, body: `token=${token}` }]))
  }
  if (only.has('refresh')) {
    // One rotating chain per connection: each refresh spends its token and continues with the next.
    if (args.generator === 'wrk') {
      const tokens = await refreshTokens(driver, holders, rotatingTokensFor(connections))
      logins += tokens.length
      await measure('refresh (rotating)', 'tokens/s', () => runWrkRotating(issuer, rotatingRefreshRequest(rp), 'refresh_token', tokens, { seconds, connections, dir: dataDir }))
    } else {
      const rotate = await refreshChains(driver, issuer, rp, holders, connections)
      logins += connections
      await measure('refresh (rotating)', 'tokens/s', () => loop({ workers: connections, seconds }, rotate))
    }
  }
  if (only.has('logins')) {
    await measure('logins (6 requests)', 'flows/s', () => loop({ workers: connections, seconds }, async (worker, i) => {
      await driver.flow(holders[(worker + i * connections) % holders.length]!)
      logins++
    }))
  }
  if (only.has('signatures')) {
    await measure('signatures', 'signatures/s', () => loop({ workers: connections, seconds }, async (worker, i) => {
      await driver.sign(holders[(worker + i * connections) % holders.length]!)
      logins++
    }))
  }
  if (only.has('ocsp_live')) {
    await measure('OCSP live (nonce)', 'responses/s', () => load([{ method: 'POST', path: '/pki/ocsp', headers: { 'content-type': 'application/ocsp-request' }, body: ocspRequests.withNonce }]))
  }
  if (only.has('ocsp_presigned')) {
    // RFC 5019 GETs over all the certificates, as relying parties checking different signers send them.
    await measure('OCSP pre-signed', 'responses/s', () => load(ocspRequests.get.map((p) => ({ method: 'GET' as const, path: p }))))
  }
  if (only.has('memory')) {
    const target = Number(args.sessions)
    const started = performance.now()
    while (logins < target) {
      await loop({ workers: connections, seconds, stop: () => logins >= target }, async (worker, i) => {
        await driver.flow(holders[(worker + i * connections) % holders.length]!)
        logins++
      })
    }
    const rss = Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${server.child.pid}/status`, 'utf8'))?.[1]) / 1024
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    const mb = (name: string) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(metrics)?.[1]) / 2 ** 20
    const note = `RSS ${rss.toFixed(0)} MB, heap in use ${mb('nodejs_heap_size_used_bytes').toFixed(0)} MB of ${mb('nodejs_heap_size_total_bytes').toFixed(0)}, external ${mb('nodejs_external_memory_bytes').toFixed(0)} MB after ${logins} logins (${((performance.now() - started) / 1000).toFixed(0)} s to reach them)`
    rows.push({ name: 'memory', unit: 'MB RSS', rate: rss, p50: 0, p99: 0, errors: 0, serverMs: 0, postgresMs: 0, note })
    console.log(`${'memory'.padEnd(20)} ${note}`)
  }
} finally {
  await meter.close()
  await server.stop()
  agent.destroy()
  await schema.dropSchema()
}

const saveTo = args.save ?? path.join(import.meta.dirname, 'results', `${commit}.json`)
fs.mkdirSync(path.dirname(saveTo), { recursive: true })
fs.writeFileSync(saveTo, JSON.stringify({ commit, date: new Date().toISOString(), seconds, connections, generator: args.generator, cores: os.availableParallelism(), rows }, null, 2))
console.log(`\nsaved to ${path.relative(process.cwd(), saveTo)}`)
if (args.compare) compare(JSON.parse(fs.readFileSync(args.compare, 'utf8')) as { commit: string; rows: Row[] })

/** Runs a workload between two CPU readings and prints its row. */
async function measure(name: string, unit: string, run: () => Promise<{ ops: number; p50: number; p99: number; errors: number }>): Promise<void> {
  const before = await meter.read()
  const generatorBefore = ownCpuMs()
  const started = performance.now()
  const result = await run()
  const elapsed = (performance.now() - started) / 1000
  const generator = ownCpuMs() - generatorBefore
  const cpu = CpuMeter.spent(before, await meter.read())
  const per = (ms: number) => ms / Math.max(1, result.ops)
  const row: Row = { name, unit, rate: result.ops / elapsed, p50: result.p50, p99: result.p99, errors: result.errors, serverMs: per(cpu.server), postgresMs: per(cpu.postgres), generatorMs: per(generator) }
  rows.push(row)
  console.log(`${name.padEnd(20)} ${`${row.rate.toFixed(0)} ${unit}`.padStart(14)} ${row.p50.toFixed(0).padStart(7)} ${row.p99.toFixed(0).padStart(7)} ${String(row.errors).padStart(6)}   ${row.serverMs.toFixed(3).padStart(16)}  ${row.postgresMs.toFixed(3).padStart(10)}  ${row.generatorMs!.toFixed(3).padStart(9)}`)
}

/** These requests, sent in turn by `connections` connections for `seconds`, by the chosen generator. */
async function load(requests: WrkRequest[]): Promise<LoadResult> {
  if (args.generator === 'wrk') return await runWrk(issuer, requests, { seconds, connections, dir: dataDir })
  const result = await autocannon({ url: issuer, duration: seconds, connections, requests })
  return { ops: result.requests.total - result.non2xx, p50: result.latency.p50, p99: result.latency.p99, errors: result.non2xx + result.errors }
}

/** The change from a saved run, workload by workload. */
function compare(baseline: { commit: string; rows: Row[] }): void {
  console.log(`\nagainst ${baseline.commit}:`)
  const change = (now: number, then: number) => (then ? `${now >= then ? '+' : ''}${((100 * (now - then)) / then).toFixed(0)}%` : 'n/a')
  for (const row of rows) {
    const then = baseline.rows.find((r) => r.name === row.name)
    if (!then) {
      console.log(`${row.name.padEnd(20)} (not in the baseline)`)
      continue
    }
    console.log(`${row.name.padEnd(20)} ${then.rate.toFixed(0)} -> ${row.rate.toFixed(0)} ${row.unit} (${change(row.rate, then.rate)})`
      + (row.unit === 'MB RSS' ? '' : `   CPU ms/op server ${then.serverMs.toFixed(3)} -> ${row.serverMs.toFixed(3)} (${change(row.serverMs, then.serverMs)}), PostgreSQL ${then.postgresMs.toFixed(3)} -> ${row.postgresMs.toFixed(3)} (${change(row.postgresMs, then.postgresMs)})`))
  }
}
