// Complete certificate logins per second: authorize -> login page (with its challenge) ->
// certificate-file proof (ES256 JWS) -> code -> token -> userinfo, with a programmatic holder, against one PostCert
// process on PostgreSQL. Run by hand:
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:login -- [seconds] [concurrency,...]
// WEB_CONCURRENCY=2 runs the server as two worker processes; WARMUP_SECONDS (default 5) of load
// come first, unmeasured. PostgreSQL on the same machine may be reached over its Unix socket:
//   DATABASE_URL='postgres://postgres@localhost/test?host=/var/run/postgresql'
// Subscribers and certificates are prepared first (not timed); each flow uses a fresh browser
// (cookie jar), as different people logging in would, over kept-alive connections as browsers do.
import { webcrypto } from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import * as client from 'openid-client'
import { connectDatabase } from '../src/db/connect.ts'
import { createLoginProof } from '../src/holders/keyfile/login-proof.ts'
import { createTestSchema } from '../test/helpers/db.ts'
import { issueCertificate } from '../test/helpers/pki.ts'
import { startServerProcess } from '../test/helpers/process.ts'
import { freePort, startTestServer, tempDir } from '../test/helpers/server.ts'

const seconds = Number(process.argv[2] ?? 10)
const levels = (process.argv[3] ?? '4,16,32').split(',').map(Number)
/** Not measured: compiles the hot paths of server and load generator first. */
const warmupSeconds = Number(process.env.WARMUP_SECONDS ?? 5)
if (!process.env.DATABASE_URL) {
  console.error('set DATABASE_URL (the benchmark measures PostCert on PostgreSQL)')
  process.exit(2)
}

const schema = await createTestSchema()
const masterKey = Buffer.alloc(32, 9)
const port = await freePort()
const issuer = `http://127.0.0.1:${port}`
const redirectUri = 'https://bench.example.kr/cb'

// Preparation in process: a relying party, subscribers with certificates, their registrations.
const prep = await startTestServer({
  database: { backend: 'postgres', db: connectDatabase({ kind: 'postgres', url: schema.url }), ownerDb: connectDatabase({ kind: 'postgres', url: schema.ownerUrl }), url: schema.url, env: schema.env, drop: async () => {}, dropData: async () => {} },
  masterKey, env: { PUBLIC_URL: issuer, LOG_LEVEL: 'silent' },
})
const store = prep.ctx.clients
const rp = await store.add({ name: 'Bench Bank', redirectUris: [redirectUri] })
const ca = await prep.ctx.ca.issuing()
const holders = await Promise.all(Array.from({ length: 64 }, async (_, i) => {
  const id = `ps_bench_${i}`
  const now = new Date()
  await prep.ctx.db.insertInto('subscriber').values({ id, ci: `ci-${id}`, name: 'Bench', birthdate: '1990-01-01', phone_e164: '+821000000001', document_type: 'passport', document_last_digits: '0000', created_at: now, updated_at: now }).execute()
  const { certificate, key } = await issueCertificate(prep.ctx.authority, { subscriberId: id })
  const privateKey = await webcrypto.subtle.importKey('pkcs8', key.privateKey.export({ format: 'der', type: 'pkcs8' }), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
  return { id, chain: [certificate.der, new Uint8Array(ca.certificate.rawData)], privateKey }
}))
await prep.close()

// SERVER_NODE_OPTIONS reaches the server only, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it.
const server = await startServerProcess({
  ...schema.env, PORT: String(port), PUBLIC_URL: issuer, DATA_DIR: tempDir(), POSTCERT_MASTER_KEY: masterKey.toString('base64url'), LOG_LEVEL: 'warn',
  NODE_OPTIONS: process.env.SERVER_NODE_OPTIONS, WEB_CONCURRENCY: process.env.WEB_CONCURRENCY,
})
const config = await client.discovery(new URL(issuer), rp.client_id, {}, client.ClientSecretBasic(String(rp.client_secret)), { execute: [client.allowInsecureRequests] })
// The relying party's token and userinfo requests go over the same kept-alive connections
// (node:http costs the load generator less CPU than fetch, leaving more for the server).
config[client.customFetch] = fetchOverAgent

/**
 * fetch for openid-client over node:http and the shared agent. The relying party still does
 * everything it would (client authentication, PKCE, ID token signature and claims checks).
 */
/** openid-client's request body as bytes for node:http (it sends forms, JSON or bytes; never a stream here). */
function bodyBytes(body: client.CustomFetchOptions['body']): string | Uint8Array | undefined {
  if (body == null) return undefined
  if (typeof body === 'string' || body instanceof Uint8Array) return body
  if (body instanceof URLSearchParams) return body.toString()
  if (body instanceof ArrayBuffer) return new Uint8Array(body)
  throw new TypeError('a streamed request body is not supported by this benchmark')
}

function fetchOverAgent(url: string, options: client.CustomFetchOptions): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method, headers: options.headers, agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => {
        const headers = new Headers()
        for (let i = 0; i < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!)
        resolve(new Response(res.statusCode === 204 ? null : Buffer.concat(chunks), { status: res.statusCode, headers }))
      })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(bodyBytes(options.body))
  })
}

/** What a page request answers; bodies are read whole. */
interface Answer { status: number; location?: string; text: string }

/** Kept-alive connections, as a browser keeps them (node:http: lighter than fetch for the load generator). */
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })

/** A browser's cookie jar, as small as a load generator can make it: name=value, sent on the paths it was set for. */
class Browser {
  readonly #cookies = new Map<string, { value: string; path: string }>()

  request(path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
    const cookie = [...this.#cookies].filter(([, c]) => path.startsWith(c.path)).map(([name, c]) => `${name}=${c.value}`).join('; ')
    return new Promise((resolve, reject) => {
      const req = http.request(`${issuer}${path}`, { method: init.method ?? 'GET', agent, headers: { ...init.headers, ...(cookie ? { cookie } : {}) } }, (res) => {
        for (const line of res.headers['set-cookie'] ?? []) this.#keep(line)
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => { text += chunk })
        res.on('end', () => resolve({ status: res.statusCode!, location: res.headers.location, text }))
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end(init.body)
    })
  }

  #keep(line: string): void {
    const [pair, ...attributes] = line.split(';')
    const at = pair!.indexOf('=')
    const name = pair!.slice(0, at).trim()
    const value = pair!.slice(at + 1).trim()
    const path = attributes.map((a) => a.trim()).find((a) => a.toLowerCase().startsWith('path='))?.slice(5) ?? '/'
    if (!value || /expires=Thu, 01 Jan 1970/i.test(line)) this.#cookies.delete(name)
    else this.#cookies.set(name, { value, path })
  }
}

async function flow(holder: (typeof holders)[number]): Promise<void> {
  const browser = new Browser()
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri, scope: 'openid profile', state,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  })
  const interaction = (await browser.request(url.pathname + url.search)).location!
  const uid = interaction.split('/').pop()!
  const page = (await browser.request(interaction)).text
  const csrf = page.match(/data-csrf="([^"]+)"/)![1]!
  // The page carries the first single-use challenge, as the browser script uses it.
  const { challenge } = JSON.parse(page.match(/id="login-challenge">([^<]+)</)![1]!) as { challenge: string }
  const proof = await createLoginProof(holder.privateKey, holder.chain, { challenge, aud: issuer, interaction: uid, iat: Math.floor(Date.now() / 1000) })
  const login = await browser.request(`/interaction/${uid}/login/file`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify({ proof }),
  })
  if (login.status !== 200) throw new Error(`login: ${login.status} ${login.text}`)
  let next = (JSON.parse(login.text) as { redirect: string }).redirect
  for (;;) {
    const target = new URL(next, issuer)
    if (target.origin !== issuer) break
    const res = await browser.request(target.pathname + target.search)
    if (res.status === 200) {
      // first login of this subscriber: register with the institution
      const consentCsrf = res.text.match(/name="csrf" value="([^"]+)"/)![1]!
      next = (await browser.request(`${target.pathname}/consent`, {
        method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf: consentCsrf, decision: 'approve' }).toString(),
      })).location!
      continue
    }
    next = res.location!
  }
  const tokens = await client.authorizationCodeGrant(config, new URL(next), { pkceCodeVerifier: verifier, expectedState: state })
  await client.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub)
}

/** CPU seconds used so far by the processes that match (Linux /proc; clock ticks of 10 ms); 0 elsewhere. */
function cpuSeconds(matches: (pid: string, fields: string[]) => boolean): number {
  let total = 0
  for (const pid of fs.existsSync('/proc') ? fs.readdirSync('/proc') : []) {
    if (!/^\d+$/.test(pid)) continue
    try {
      // After "pid (comm) ": state, ppid, pgrp, ..., utime (12th), stime (13th).
      const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
      if (matches(pid, fields)) total += (Number(fields[11]) + Number(fields[12])) / 100
    } catch {
      // gone
    }
  }
  return total
}
/** The server: its process group (the supervisor and its workers with WEB_CONCURRENCY). */
const serverSeconds = () => cpuSeconds((_pid, fields) => Number(fields[2]) === server.child.pid)
/** Every PostgreSQL process on this machine. */
const postgresSeconds = () => cpuSeconds((pid) => fs.readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('postgres'))
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
