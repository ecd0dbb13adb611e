// Throughput, latency and CPU per request (the server process's, and its own PostgreSQL backends')
// of the token, introspection and discovery endpoints of one PostCert process on PostgreSQL. Run by hand (not in CI):
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench -- [seconds] [connections]
// It creates its own schema and drops it afterwards.
import autocannon from 'autocannon'
import { CpuMeter, taggedUrl } from './cpu.ts'
import { createTestSchema } from '../test/helpers/db.ts'
import { newMasterKey, runCli, startServerProcess } from '../test/helpers/process.ts'
import { freePort, tempDir } from '../test/helpers/server.ts'

const seconds = Number(process.argv[2] ?? 10)
const connections = Number(process.argv[3] ?? 16)

if (!process.env.DATABASE_URL) {
  console.error('set DATABASE_URL (the benchmark measures PostCert on PostgreSQL)')
  process.exit(2)
}
const schema = await createTestSchema()
const port = await freePort()
const applicationName = `postcert-bench-${schema.schema}`
const env = { ...schema.env, DATABASE_URL: taggedUrl(schema.env.DATABASE_URL!, applicationName), PORT: String(port), DATA_DIR: tempDir(), POSTCERT_MASTER_KEY: newMasterKey(), LOG_LEVEL: 'warn', NODE_ENV: 'production', PUBLIC_URL: 'https://id.postcert.test', TRUST_PROXY: 'true',
  // Production refuses the sandbox providers; enrollment is not exercised here.
  SMS_GATEWAY_URL: 'http://127.0.0.1:9/sms', SMS_GATEWAY_TOKEN: 'unused', IDENTITY_PROVIDER_URL: 'http://127.0.0.1:9/idv', IDENTITY_PROVIDER_TOKEN: 'unused' }
const added = await runCli(['clients', 'add', '--name', 'Bench Bank', '--grant-type', 'client_credentials'], env)
const { client_id, client_secret } = JSON.parse(added.stdout)
const server = await startServerProcess(env)
const meter = new CpuMeter(server.child.pid!, process.env.DATABASE_URL, applicationName)
await meter.open()
const base = `http://127.0.0.1:${port}`
const headers = {
  authorization: `Basic ${Buffer.from(`${client_id}:${client_secret}`).toString('base64')}`,
  'content-type': 'application/x-www-form-urlencoded',
  'x-forwarded-proto': 'https',
}
const issue = async () => ((await (await fetch(`${base}/token`, { method: 'POST', headers, body: 'grant_type=client_credentials' })).json()) as { access_token: string }).access_token

async function run(title: string, options: autocannon.Options) {
  const before = await meter.read()
  const result = await autocannon({ duration: seconds, connections, ...options })
  const cpu = CpuMeter.spent(before, await meter.read())
  const non2xx = result.non2xx + result.errors
  const perOp = (ms: number) => (ms / Math.max(1, result.requests.total)).toFixed(3)
  console.log(`${title.padEnd(34)} ${result.requests.average.toFixed(0).padStart(6)} req/s   p50 ${result.latency.p50} ms   p99 ${result.latency.p99} ms   errors ${non2xx}   CPU per request: server ${perOp(cpu.server)} ms, PostgreSQL ${perOp(cpu.postgres)} ms`)
}

try {
  console.log(`${seconds} s per endpoint, ${connections} connections, one PostCert process, PostgreSQL on this machine`)
  await run('GET discovery', { url: `${base}/.well-known/openid-configuration`, headers: { 'x-forwarded-proto': 'https' } })
  await run('POST /token (client_credentials)', { url: `${base}/token`, method: 'POST', headers, body: 'grant_type=client_credentials' })
  const token = await issue()
  await run('POST /token/introspection', { url: `${base}/token/introspection`, method: 'POST', headers, body: `token=${token}` })
} finally {
  await meter.close()
  await server.stop()
  await schema.dropSchema()
}
