// Complete certificate logins per second: authorize -> login page -> challenge -> certificate-file
// proof (ES256 JWS) -> code -> token -> userinfo, with a programmatic holder, against one PostCert
// process on PostgreSQL. Run by hand:
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:login -- [seconds] [concurrency,...]
// Subscribers and certificates are prepared first (not timed); each flow uses a fresh browser
// (cookie jar), as different people logging in would.
import { webcrypto } from 'node:crypto'
import * as client from 'openid-client'
import request from 'supertest'
import { connectDatabase } from '../src/db/connect.ts'
import { createLoginProof } from '../src/holders/keyfile/login-proof.ts'
import { ClientStore } from '../src/oidc/client-store.ts'
import { createTestSchema } from '../test/helpers/db.ts'
import { issueCertificate } from '../test/helpers/pki.ts'
import { startServerProcess } from '../test/helpers/process.ts'
import { freePort, startTestServer, tempDir } from '../test/helpers/server.ts'

const seconds = Number(process.argv[2] ?? 10)
const levels = (process.argv[3] ?? '4,16,32').split(',').map(Number)
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
  database: { backend: 'postgres', db: connectDatabase({ kind: 'postgres', url: schema.url }), url: schema.url, drop: async () => {}, dropData: async () => {} },
  masterKey, env: { PUBLIC_URL: issuer, LOG_LEVEL: 'silent' },
})
const store = new ClientStore({ db: prep.ctx.db, box: prep.ctx.box, clock: prep.ctx.clock }, prep.ctx.host.provider)
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

const server = await startServerProcess({ DATABASE_URL: schema.url, PORT: String(port), PUBLIC_URL: issuer, DATA_DIR: tempDir(), POSTCERT_MASTER_KEY: masterKey.toString('base64url'), LOG_LEVEL: 'warn' })
const config = await client.discovery(new URL(issuer), rp.client_id, {}, client.ClientSecretBasic(String(rp.client_secret)), { execute: [client.allowInsecureRequests] })

async function flow(holder: (typeof holders)[number]): Promise<void> {
  const browser = request.agent(issuer)
  const verifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri, scope: 'openid profile', state,
    code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  })
  const interaction = (await browser.get(url.pathname + url.search)).headers.location!
  const uid = interaction.split('/').pop()!
  const page = await browser.get(interaction)
  const csrf = page.text.match(/data-csrf="([^"]+)"/)![1]!
  const json = (path: string, body: unknown) => browser.post(path).set('Content-Type', 'application/json').set('X-CSRF-Token', csrf).send(JSON.stringify(body))
  const { challenge } = (await json(`/interaction/${uid}/challenge`, {})).body
  const proof = await createLoginProof(holder.privateKey, holder.chain, { challenge, aud: issuer, interaction: uid, iat: Math.floor(Date.now() / 1000) })
  let next: string = (await json(`/interaction/${uid}/login/file`, { proof })).body.redirect
  for (;;) {
    const target = new URL(next, issuer)
    if (target.origin !== issuer) break
    const res = await browser.get(target.pathname + target.search)
    if (res.status === 200) {
      // first login of this subscriber: register with the institution
      const consentCsrf = res.text.match(/name="csrf" value="([^"]+)"/)![1]!
      next = (await browser.post(`${target.pathname}/consent`).type('form').send({ csrf: consentCsrf, decision: 'approve' })).headers.location!
      continue
    }
    next = res.headers.location!
  }
  const tokens = await client.authorizationCodeGrant(config, new URL(next), { pkceCodeVerifier: verifier, expectedState: state })
  await client.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub)
}

try {
  // Warm-up: every subscriber logs in once (registration at the institution happens here).
  await Promise.all(holders.map((h) => flow(h)))
  console.log(`${seconds} s per level; one PostCert process, PostgreSQL and this load generator on the same 2-core machine`)
  for (const concurrency of levels) {
    const latencies: number[] = []
    let errors = 0
    const end = Date.now() + seconds * 1000
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
    latencies.sort((a, b) => a - b)
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))]?.toFixed(0)
    console.log(`concurrency ${String(concurrency).padStart(3)}: ${(latencies.length / seconds).toFixed(1)} flows/s   p50 ${pct(0.5)} ms   p99 ${pct(0.99)} ms   errors ${errors}`)
  }
} finally {
  await server.stop()
  await schema.dropSchema()
}
