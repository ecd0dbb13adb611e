// Does the sweeper keep up? Full client_credentials load on one PostCert process for some minutes,
// with access tokens living one minute, while the token table's rows are counted every 30 s. The
// table should stop growing once the first tokens expire: at most about (token lifetime + sweep
// interval) × issuance rate rows, however long the run. Run by hand (not in CI):
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:sweeper -- [minutes] [connections]
// It creates its own schema and drops it afterwards.
import autocannon from 'autocannon'
import pg from 'pg'
import { createTestSchema } from '../test/helpers/db.ts'
import { newMasterKey, runCli, startServerProcess } from '../test/helpers/process.ts'
import { freePort, tempDir } from '../test/helpers/server.ts'

const minutes = Number(process.argv[2] ?? 10)
const connections = Number(process.argv[3] ?? 16)
const TOKEN_SECONDS = 60
const SWEEP_SECONDS = 60
const SAMPLE_SECONDS = 30

if (!process.env.DATABASE_URL) {
  console.error('set DATABASE_URL (the benchmark measures PostCert on PostgreSQL)')
  process.exit(2)
}
const schema = await createTestSchema()
const port = await freePort()
const env = { ...schema.env, PORT: String(port), DATA_DIR: tempDir(), POSTCERT_MASTER_KEY: newMasterKey(), LOG_LEVEL: 'warn', NODE_ENV: 'production', PUBLIC_URL: 'https://id.postcert.test', TRUST_PROXY: 'true',
  ACCESS_TOKEN_SECONDS: String(TOKEN_SECONDS), SWEEP_INTERVAL_SECONDS: String(SWEEP_SECONDS),
  SMS_GATEWAY_URL: 'http://127.0.0.1:9/sms', SMS_GATEWAY_TOKEN: 'unused', IDENTITY_PROVIDER_URL: 'http://127.0.0.1:9/idv', IDENTITY_PROVIDER_TOKEN: 'unused' }
const added = await runCli(['clients', 'add', '--name', 'Bench Bank', '--grant-type', 'client_credentials'], env)
const { client_id, client_secret } = JSON.parse(added.stdout)
const server = await startServerProcess(env)
const admin = new pg.Client({ connectionString: schema.ownerUrl })
await admin.connect()

const count = async () => Number((await admin.query<{ n: string }>(`select count(*) as n from oidc_payload where model = 'ClientCredentials'`)).rows[0]!.n)
const samples: { at: number; rows: number; issued: number }[] = []
let issued = 0
const started = Date.now()

try {
  console.log(`${minutes} min of client_credentials at ${connections} connections; tokens live ${TOKEN_SECONDS} s, the sweeper runs every ${SWEEP_SECONDS} s`)
  console.log('elapsed   tokens issued   rows in table   issued/s (last 30 s)')
  let finish: (result: autocannon.Result) => void = () => {}
  const done = new Promise<autocannon.Result>((resolve) => { finish = resolve })
  const load = autocannon({
    url: `http://127.0.0.1:${port}/token`, method: 'POST', duration: minutes * 60, connections,
    headers: { authorization: `Basic ${Buffer.from(`${client_id}:${client_secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-proto': 'https' },
    body: 'grant_type=client_credentials',
  }, (err, result) => {
    if (err) throw err
    finish(result)
  })
  load.on('response', (_client, status) => { if (status === 200) issued++ })
  let sampling = Promise.resolve()
  const sampler = setInterval(() => {
    sampling = count().then((rows) => {
      const at = (Date.now() - started) / 1000
      const last = samples.at(-1)
      const rate = last ? (issued - last.issued) / (at - last.at) : issued / at
      samples.push({ at, rows, issued })
      console.log(`${at.toFixed(0).padStart(5)} s   ${String(issued).padStart(13)}   ${String(rows).padStart(13)}   ${rate.toFixed(0).padStart(8)}`)
    })
  }, SAMPLE_SECONDS * 1000)
  const result = await done
  clearInterval(sampler)
  await sampling
  const settled = samples.filter((s) => s.at >= TOKEN_SECONDS + SWEEP_SECONDS + SAMPLE_SECONDS)
  const rate = result.requests.average
  console.log(`\n${issued} tokens at ${rate.toFixed(0)}/s; errors ${result.errors + result.non2xx}`)
  if (settled.length) {
    const rows = settled.map((s) => s.rows)
    console.log(`after ${TOKEN_SECONDS + SWEEP_SECONDS + SAMPLE_SECONDS} s: rows between ${Math.min(...rows)} and ${Math.max(...rows)}`
      + ` (bound: (lifetime + sweep interval) × rate = ${((TOKEN_SECONDS + SWEEP_SECONDS) * rate).toFixed(0)});`
      + ` first settled sample ${rows[0]}, last ${rows.at(-1)}`)
  }
} finally {
  await admin.end()
  await server.stop()
  await schema.dropSchema()
}
