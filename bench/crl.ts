// CRL build time, and /healthz latency during the build, at growing numbers of revoked
// certificates, against one PostCert process on PostgreSQL. Run by hand:
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:crl -- [sizes]   (default 1000,10000,100000)
// Revoked rows are written straight into the certificate table (the CRL reads nothing else);
// each size adds to the previous. The CRL is asked for once per size (that request waits for the
// build); meanwhile this process asks /healthz every 5 ms and records how long each answer took.
// With CRL_PARTITIONS=N in the environment the rows are spread over N partitions (as the serial
// modulo N spreads them), and partition 0's CRL is asked for too: what a relying party fetches.
// SERVER_NODE_OPTIONS reaches the server only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it.
import { sql } from 'kysely'
import { CRL_BUILD_SPACING, CRL_SPACED_BUILD_MS } from '../src/ca/constants.ts'
import { connectDatabase } from '../src/db/connect.ts'
import { createTestSchema } from '../test/helpers/db.ts'
import { newMasterKey, startServerProcess } from '../test/helpers/process.ts'
import { freePort, tempDir } from '../test/helpers/server.ts'

const sizes = (process.argv[2] ?? '1000,10000,100000').split(',').map(Number)
const partitions = Number(process.env.CRL_PARTITIONS ?? 0)
if (!process.env.DATABASE_URL) {
  console.error('set DATABASE_URL (the benchmark measures PostCert on PostgreSQL)')
  process.exit(2)
}

const schema = await createTestSchema()
const port = await freePort()
const server = await startServerProcess({
  ...schema.env, PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}`, DATA_DIR: tempDir(), POSTCERT_MASTER_KEY: newMasterKey(),
  LOG_LEVEL: 'warn', CRL_MIN_INTERVAL_SECONDS: '0', CRL_PARTITIONS: String(partitions), NODE_OPTIONS: process.env.SERVER_NODE_OPTIONS,
})
const db = connectDatabase({ kind: 'postgres', url: schema.url })
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))] ?? 0

try {
  const ca = await db.selectFrom('ca_certificate').select('id').where('role', '=', 'issuing').where('active', '=', true).executeTakeFirstOrThrow()
  let written = 0
  let [lastStarted, lastTook] = [0, 0]
  console.log(`one PostCert process and PostgreSQL on this machine (${(await import('node:os')).cpus().length} cores)`)
  for (const size of sizes) {
    // 100,000 rows per statement: the connection's statement timeout bounds each.
    for (let from = written + 1; from <= size; from += 100_000) {
      await sql`insert into certificate (serial, subscriber_id, holder, issuer_id, der, subject, spki_sha256, not_before, not_after, status, revoked_at, revocation_reason, status_changed_at, crl_partition, status_version)
        select 'b0' || lpad(to_hex(g), 14, '0'), 'ps_bench', 'file', ${ca.id}, '\\x01'::bytea, 'CN=bench', 'x', now() - interval '1 day', now() + interval '300 days',
          'revoked', now(), 'keyCompromise', now(), ${partitions > 0 ? sql`g % ${partitions}` : sql`null`}, v.version + 1
        from generate_series(${from}::int, ${Math.min(size, from + 99_999)}::int) g, certificate_status_version v`.execute(db)
    }
    written = size
    await sql`update certificate_status_version set version = version + 1 where id = 1`.execute(db)
    await sql`analyze certificate`.execute(db)

    // A build of five seconds or more spaces the next by ten times as long (CRL_BUILD_SPACING): wait it out, so this request builds.
    const spacedUntil = lastStarted + (lastTook >= CRL_SPACED_BUILD_MS ? CRL_BUILD_SPACING * lastTook : 0) + 100
    if (performance.now() < spacedUntil) await new Promise((resolve) => setTimeout(resolve, spacedUntil - performance.now()))
    const latencies: number[] = []
    let building = true
    const probe = (async () => {
      while (building) {
        const started = performance.now()
        await (await fetch(`http://127.0.0.1:${port}/healthz`)).arrayBuffer()
        latencies.push(performance.now() - started)
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
    })()
    const started = performance.now()
    const crl = Buffer.from(await (await fetch(`http://127.0.0.1:${port}/pki/crl`)).arrayBuffer())
    const took = performance.now() - started
    lastStarted = started
    lastTook = took
    building = false
    await probe
    console.log(`${String(size).padStart(7)} entries: CRL ${(crl.length / 1024).toFixed(0)} KiB built and served in ${took.toFixed(0)} ms; `
      + `/healthz meanwhile: ${latencies.length} answers, p50 ${percentile(latencies, 0.5).toFixed(1)} ms, p99 ${percentile(latencies, 0.99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`)
    if (partitions > 0) {
      const begun = performance.now()
      const part = Buffer.from(await (await fetch(`http://127.0.0.1:${port}/pki/crl/0`)).arrayBuffer())
      const built = performance.now() - begun
      const again = performance.now()
      await (await fetch(`http://127.0.0.1:${port}/pki/crl/0`)).arrayBuffer()
      console.log(`${' '.repeat(16)}partition 0 of ${partitions}: CRL ${(part.length / 1024).toFixed(1)} KiB built and served in ${built.toFixed(0)} ms, served again in ${(performance.now() - again).toFixed(1)} ms`)
    }
  }
} finally {
  await db.destroy()
  await server.stop()
  await schema.dropSchema()
}
