// Where a certificate login's CPU goes, request by request: a batch of browsers takes the first
// step of a login, then the next, and so on, and the server's and its PostgreSQL backends' CPU is
// read between steps. Run by hand (not in CI):
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:login-steps -- [--flows N] [--connections N] [--rounds N]
// Each round logs `flows` (1,000) holders in, `connections` (16) browsers at a time per step; the
// first round warms the server up and is not printed. SERVER_NODE_OPTIONS reaches the server.
import os from 'node:os'
import { parseArgs } from 'node:util'
import * as client from 'openid-client'
import { CpuMeter } from './cpu.ts'
import { agent, benchTarget, Browser, fetchOverAgent, LoginDriver, prepareLogins, serverEnv } from './flows.ts'
import { createLoginProof } from '../src/holders/keyfile/login-proof.ts'
import { START_ARGS, startServerProcess } from '../test/helpers/process.ts'
import { tempDir } from '../test/helpers/server.ts'

const { values: args } = parseArgs({ options: { flows: { type: 'string', default: '1000' }, connections: { type: 'string', default: '16' }, rounds: { type: 'string', default: '3' } } })
const flows = Number(args.flows)
const connections = Number(args.connections)
if (!process.env.DATABASE_URL) {
  console.error('set DATABASE_URL (the benchmark measures PostCert on PostgreSQL)')
  process.exit(2)
}

const target = await benchTarget()
const { schema, issuer, redirectUri, masterKey, applicationName } = target
const { rp, holders } = await prepareLogins(schema, { issuer, masterKey, redirectUri, subscribers: 64 })
const server = await startServerProcess({ ...serverEnv(target, tempDir('postcert-bench-')), NODE_OPTIONS: process.env.SERVER_NODE_OPTIONS }, { args: START_ARGS })
const meter = new CpuMeter(server.child.pid!, process.env.DATABASE_URL, applicationName)
await meter.open()
const config = await client.discovery(new URL(issuer), rp.client_id, {}, client.ClientSecretBasic(rp.client_secret), { execute: [client.allowInsecureRequests] })
config[client.customFetch] = fetchOverAgent

/** One login in the making: its browser and what the steps so far left for the next. */
interface Login { browser: Browser; holder: (typeof holders)[number]; verifier: string; state: string; next: string; uid?: string; page?: string; tokens?: Awaited<ReturnType<typeof client.authorizationCodeGrant>> }

/** The steps of a login, each one request of every browser. */
const STEPS: [string, (login: Login) => Promise<void>][] = [
  ['authorization request', async (login) => {
    login.next = (await login.browser.request(login.next)).location!
    login.uid = login.next.split('/').pop()!
  }],
  ['login page', async (login) => { login.page = (await login.browser.request(login.next)).text }],
  ['certificate proof', async (login) => {
    const csrf = login.page!.match(/data-csrf="([^"]+)"/)![1]!
    const { challenge } = JSON.parse(login.page!.match(/id="login-challenge">([^<]+)</)![1]!) as { challenge: string }
    const proof = await createLoginProof(login.holder.privateKey, login.holder.chain, { challenge, aud: issuer, interaction: login.uid!, iat: Math.floor(Date.now() / 1000) })
    const res = await login.browser.request(`/interaction/${login.uid}/login/file`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify({ proof }) })
    if (res.status !== 200) throw new Error(`login: ${res.status} ${res.text}`)
    login.next = (JSON.parse(res.text) as { redirect: string }).redirect
  }],
  ['resume (to the code)', async (login) => {
    for (let target = new URL(login.next, issuer); target.origin === issuer; target = new URL(login.next, issuer)) {
      const res = await login.browser.request(target.pathname + target.search)
      if (!res.location) throw new Error(`${target.pathname}: ${res.status} ${res.text.slice(0, 200)}`)
      login.next = res.location
    }
  }],
  ['code exchange', async (login) => { login.tokens = await client.authorizationCodeGrant(config, new URL(login.next), { pkceCodeVerifier: login.verifier, expectedState: login.state }) }],
  ['userinfo', async (login) => { await client.fetchUserInfo(config, login.tokens!.access_token, login.tokens!.claims()!.sub) }],
]

/** A round: `flows` logins made step by step; the CPU of each step per login. */
async function round(): Promise<{ name: string; server: number; postgres: number }[]> {
  const logins = await Promise.all(Array.from({ length: flows }, async (_, i): Promise<Login> => {
    const verifier = client.randomPKCECodeVerifier()
    const state = client.randomState()
    const url = client.buildAuthorizationUrl(config, { redirect_uri: redirectUri, scope: 'openid profile', state, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' })
    return { browser: new Browser(issuer), holder: holders[i % holders.length]!, verifier, state, next: url.pathname + url.search }
  }))
  const rows = []
  for (const [name, step] of STEPS) {
    const before = await meter.read()
    let at = 0
    await Promise.all(Array.from({ length: connections }, async () => {
      while (at < logins.length) await step(logins[at++]!)
    }))
    const spent = CpuMeter.spent(before, await meter.read())
    rows.push({ name, server: spent.server / flows, postgres: spent.postgres / flows })
  }
  return rows
}

try {
  // Each holder's first login registers it at the institution (a consent page): made before the rounds.
  const driver = await LoginDriver.discover(issuer, redirectUri, rp)
  await Promise.all(holders.map((h) => driver.flow(h)))
  await round()
  console.log(`${flows} logins per round, ${connections} at a time per step; CPU ms per login on ${os.availableParallelism()} cores (server / its PostgreSQL backends), one column per round\n`)
  const results = []
  for (let r = 0; r < Number(args.rounds); r++) results.push(await round())
  for (const [i, [name]] of STEPS.entries()) {
    console.log(`${name.padEnd(24)} ${results.map((rows) => `${rows[i]!.server.toFixed(3)} / ${rows[i]!.postgres.toFixed(3)}`.padStart(16)).join('  ')}`)
  }
  const sum = (rows: { server: number; postgres: number }[]) => rows.reduce((t, r) => [t[0]! + r.server, t[1]! + r.postgres], [0, 0])
  console.log(`${'whole login'.padEnd(24)} ${results.map((rows) => { const [s, p] = sum(rows); return `${s!.toFixed(3)} / ${p!.toFixed(3)}`.padStart(16) }).join('  ')}`)
} finally {
  await meter.close()
  await server.stop()
  agent.destroy()
  await schema.dropSchema()
}
