// Complete certificate logins per second: authorize -> login page (with its challenge) ->
// certificate-file proof (ES256 JWS) -> code -> token -> userinfo, with a programmatic holder, against one PostCert
// process on PostgreSQL. Run by hand:
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:login -- [seconds] [concurrency,...]
// WEB_CONCURRENCY=2 runs the server as two worker processes; WARMUP_SECONDS (default 5) of load
// come first, unmeasured. PostgreSQL on the same machine may be reached over its Unix socket:
//   DATABASE_URL='postgres://postgres@localhost/test?host=/var/run/postgresql'
// Subscribers and certificates are prepared first (not timed); each flow uses a fresh browser
// (cookie jar), as different people logging in would, over kept-alive connections as browsers do.
import fs from 'node:fs'
import os from 'node:os'
import { cpuMsWhere, groupCpuMs } from './cpu.ts'
import { benchTarget, LoginDriver, prepareLogins } from './flows.ts'
import { startServerProcess } from '../test/helpers/process.ts'
import { tempDir } from '../test/helpers/server.ts'

const seconds = Number(process.argv[2] ?? 10)
const levels = (process.argv[3] ?? '4,16,32').split(',').map(Number)
/** Not measured: compiles the hot paths of server and load generator first. */
const warmupSeconds = Number(process.env.WARMUP_SECONDS ?? 5)
if (!process.env.DATABASE_URL) {
  console.error('set DATABASE_URL (the benchmark measures PostCert on PostgreSQL)')
  process.exit(2)
}

const { schema, port, issuer, redirectUri, masterKey } = await benchTarget()
const { rp, holders } = await prepareLogins(schema, { issuer, masterKey, redirectUri, subscribers: 64 })

// SERVER_NODE_OPTIONS reaches the server only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it.
const server = await startServerProcess({
  ...schema.env, PORT: String(port), PUBLIC_URL: issuer, DATA_DIR: tempDir(), POSTCERT_MASTER_KEY: masterKey.toString('base64url'), LOG_LEVEL: 'warn',
  // Each browser comes from an address of its own (flows.ts).
  TRUST_PROXY: 'true',
  NODE_OPTIONS: process.env.SERVER_NODE_OPTIONS, WEB_CONCURRENCY: process.env.WEB_CONCURRENCY,
})
const driver = await LoginDriver.discover(issuer, redirectUri, rp)
const flow = (holder: (typeof holders)[number]) => driver.flow(holder)

/** The server: its process group (the supervisor and its workers with WEB_CONCURRENCY). */
const serverSeconds = () => groupCpuMs(server.child.pid!) / 1000
/** Every PostgreSQL process on this machine. */
const postgresSeconds = () => cpuMsWhere((pid) => fs.readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('postgres')) / 1000
const generatorSeconds = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6 }

/** `concurrency` browsers logging in one after another for `duration` seconds. */
async function runFlows(concurrency: number, duration: number): Promise<{ latencies: number[]; errors: number }> {
  const latencies: number[] = []
  let errors = 0
  const end = Date.now() + duration * 1000
  await Promise.all(Array.from({ length: concurrency }, async (_, worker) => {
    let i = worker
    while (Date.now() < end) {
      const started = performance.now()
      try {
        await flow(holders[i++ % holders.length]!)
        latencies.push(performance.now() - started)
      } catch {
        errors++
      }
    }
  }))
  return { latencies, errors }
}

try {
  // Warm-up: every subscriber logs in once (registration at the institution happens here).
  await Promise.all(holders.map((h) => flow(h)))
  // Then a few seconds of load, so that every level measures compiled code, not the JIT warming up.
  await runFlows(Math.max(...levels), warmupSeconds)
  console.log(`${seconds} s per level; PostCert (${process.env.WEB_CONCURRENCY ?? 1} worker process(es)), PostgreSQL and this load generator on the same machine (${os.availableParallelism()} cores)`)
  for (const concurrency of levels) {
    const cpuBefore = [serverSeconds(), postgresSeconds(), generatorSeconds()]
    const { latencies, errors } = await runFlows(concurrency, seconds)
    latencies.sort((a, b) => a - b)
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]?.toFixed(0)
    // CPU per completed flow: where the machine's two cores go.
    const [server_, postgres, generator] = [serverSeconds(), postgresSeconds(), generatorSeconds()].map((v, i) => (1000 * (v - cpuBefore[i]!)) / Math.max(1, latencies.length))
    console.log(`concurrency ${String(concurrency).padStart(3)}: ${(latencies.length / seconds).toFixed(1)} flows/s   p50 ${pct(0.5)} ms   p99 ${pct(0.99)} ms   errors ${errors}`
      + `   CPU ms/flow: server ${server_!.toFixed(1)}, PostgreSQL ${postgres!.toFixed(1)}, load generator ${generator!.toFixed(1)}`)
  }
} finally {
  await server.stop()
  await schema.dropSchema()
}
