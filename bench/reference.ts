// The floor under PostCert's figures on this machine: oidc-provider alone, the library PostCert is
// built on, with its own in-memory store and nothing of PostCert's (no PostgreSQL, no certificate,
// no login page), measured with the same load generators as bench/run.ts. What PostCert adds on
// top of it is what PostCert can still make faster; the rest is the library's and the machine's.
// Run by hand (not in CI):
//   npm run bench:reference -- [--seconds N] [--connections N] [--only client_credentials,refresh,logins]
// The provider runs in a process of its own with the Node flags and MALLOC_ARENA_MAX of `npm start`,
// configured as PostCert configures it where it matters to the cost: RS256 ID tokens (2048-bit
// RSA), client_secret_basic, PKCE, rotating refresh tokens, opaque access tokens. Its interaction
// logs the user in and grants the scopes at once (no page), so a login is 5 requests:
// authorization request, interaction, resume, token (openid-client verifying the ID token), userinfo.
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto'
import http from 'node:http'
import os from 'node:os'
import { parseArgs } from 'node:util'
import * as client from 'openid-client'
import { ownCpuMs, groupCpuMs } from './cpu.ts'
import { agent, basic, Browser, fetchOverAgent, postForm, rotating, rotatingRefreshRequest } from './flows.ts'
import { loop, type LoopResult } from './loop.ts'
import { rotatingTokensFor, runWrk, runWrkRotating, wrkInstalled } from './wrk.ts'
import { START_ARGS, START_ENV, startServerProcess } from '../test/helpers/process.ts'
import { freePort, tempDir } from '../test/helpers/server.ts'

const REDIRECT_URI = 'https://bench.example.kr/cb'
const RP = { client_id: 'bench-rp', client_secret: randomBytes(32).toString('base64url') }
const WORKLOADS = ['client_credentials', 'refresh', 'logins'] as const

if (process.argv[2] === '--serve') await serve(process.argv[3]!, process.argv[4]!)
else await drive()

/** The provider alone, on PORT, with the relying party's secret passed in. */
async function serve(port: string, secret: string): Promise<void> {
  const { default: Provider } = await import('oidc-provider')
  const issuer = `http://127.0.0.1:${port}`
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' })
  const provider = new Provider(issuer, {
    clients: [{ client_id: RP.client_id, client_secret: secret, redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code', 'refresh_token', 'client_credentials'], response_types: ['code'], scope: 'openid profile offline_access' }],
    jwks: { keys: [{ ...key, kid: 'reference', use: 'sig', alg: 'RS256' }] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub, name: 'Bench' }) }),
    claims: { openid: ['sub'], profile: ['name'] },
    features: { devInteractions: { enabled: false }, clientCredentials: { enabled: true } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    rotateRefreshToken: true,
    issueRefreshToken: (_ctx, c, code) => c.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
  })
  const callback = provider.callback()
  http.createServer((req, res) => {
    if (req.url === '/healthz') return void res.end('ok')
    if (!req.url?.startsWith('/interaction/')) return void callback(req, res)
    // Logged in and consented at once: a new person each time, all the scopes asked granted.
    void (async () => {
      const details = await provider.interactionDetails(req, res)
      const accountId = randomUUID()
      const grant = new provider.Grant({ accountId, clientId: String(details.params.client_id) })
      grant.addOIDCScope(String(details.params.scope))
      await provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: false })
    })().catch((error: unknown) => {
      res.statusCode = 500
      res.end(String(error))
    })
  }).listen(Number(port), '127.0.0.1')
}

/** Starts the provider, runs the workloads against it and prints their rows. */
async function drive(): Promise<void> {
  const { values: args } = parseArgs({
    options: { seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '32' }, only: { type: 'string' } },
  })
  const seconds = Number(args.seconds)
  const connections = Number(args.connections)
  const only = new Set(args.only?.split(',') ?? WORKLOADS)
  for (const name of only) {
    if (!(WORKLOADS as readonly string[]).includes(name)) {
      console.error(`unknown workload ${name}; one of ${WORKLOADS.join(', ')}`)
      process.exit(2)
    }
  }
  const port = await freePort()
  const issuer = `http://127.0.0.1:${port}`
  const flags = START_ARGS.filter((a) => a.startsWith('--'))
  const server = await startServerProcess({ PORT: String(port), PUBLIC_URL: issuer, ...START_ENV }, { args: [...flags, import.meta.filename, '--serve', String(port), RP.client_secret] })
  const config = await client.discovery(new URL(issuer), RP.client_id, {}, client.ClientSecretBasic(RP.client_secret), { execute: [client.allowInsecureRequests] })
  config[client.customFetch] = fetchOverAgent

  /** One code flow in a fresh browser, then userinfo; returns the token response. */
  const flow = async (extra: Record<string, string> = {}) => {
    const browser = new Browser(issuer)
    const verifier = client.randomPKCECodeVerifier()
    const state = client.randomState()
    const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid profile', state, code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra })
    let next = (await browser.request(url.pathname + url.search)).location!
    while (next.startsWith(issuer) || next.startsWith('/')) {
      const target = new URL(next, issuer)
      const res = await browser.request(target.pathname + target.search)
      if (!res.location) throw new Error(`${target.pathname}: ${res.status} ${res.text.slice(0, 200)}`)
      next = res.location
    }
    const tokens = await client.authorizationCodeGrant(config, new URL(next), { pkceCodeVerifier: verifier, expectedState: state })
    await client.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub)
    return tokens
  }

  /** Runs a workload between two CPU readings and prints its row. */
  const measure = async (name: string, unit: string, run: () => Promise<LoopResult>) => {
    const [serverBefore, generatorBefore, started] = [groupCpuMs(server.child.pid!), ownCpuMs(), performance.now()]
    const result = await run()
    const elapsed = (performance.now() - started) / 1000
    const per = (ms: number) => (ms / Math.max(1, result.ops)).toFixed(3)
    console.log(`${name.padEnd(20)} ${`${(result.ops / elapsed).toFixed(0)} ${unit}`.padStart(14)} ${result.p50.toFixed(0).padStart(7)} ${result.p99.toFixed(0).padStart(7)} ${String(result.errors).padStart(6)}   ${per(groupCpuMs(server.child.pid!) - serverBefore).padStart(16)}  ${per(ownCpuMs() - generatorBefore).padStart(9)}`)
  }

  try {
    // Warm-up, not measured: the hot paths compiled in both processes.
    await loop({ workers: connections, seconds: 3 }, () => flow().then(() => undefined))
    console.log(`oidc-provider alone (its memory store), ${seconds} s per workload, ${connections} connections; it and this load generator on ${os.availableParallelism()} cores\n`)
    console.log(`${'workload'.padEnd(20)} ${'rate'.padStart(14)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'errors'.padStart(6)}   CPU ms/op: server  generator`)
    if (only.has('client_credentials')) {
      const requests = [{ method: 'POST' as const, path: '/token', headers: { authorization: basic(RP), 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' }]
      await measure('client_credentials', 'tokens/s', () => wrkInstalled()
        ? runWrk(issuer, requests, { seconds, connections, dir: tempDir('postcert-reference-') })
        : loop({ workers: connections, seconds }, async () => {
          const answer = await postForm(`${issuer}/token`, requests[0]!.body, basic(RP))
          if (answer.status !== 200) throw new Error(`client_credentials: ${answer.status} ${answer.text}`)
        }))
    }
    if (only.has('refresh')) {
      // One rotating chain per connection, as bench/run.ts drives PostCert's: by wrk where it is installed.
      const offline = async () => (await flow({ scope: 'openid profile offline_access', prompt: 'consent' })).refresh_token!
      if (wrkInstalled()) {
        const tokens = await Promise.all(Array.from({ length: rotatingTokensFor(connections) }, offline))
        await measure('refresh (rotating)', 'tokens/s', () => runWrkRotating(issuer, rotatingRefreshRequest(RP), 'refresh_token', tokens, { seconds, connections, dir: tempDir('postcert-reference-') }))
      } else {
        const rotate = rotating(issuer, RP, await Promise.all(Array.from({ length: connections }, offline)))
        await measure('refresh (rotating)', 'tokens/s', () => loop({ workers: connections, seconds }, rotate))
      }
    }
    if (only.has('logins')) await measure('logins (5 requests)', 'flows/s', () => loop({ workers: connections, seconds }, async () => { await flow() }))
  } finally {
    await server.stop()
    agent.destroy()
  }
}
