// Certificate logins as a benchmark drives them: subscribers with certificate files prepared in the
// database (not timed), then complete flows (authorize -> login page with its challenge ->
// certificate-file proof (ES256 JWS) -> code -> token -> userinfo) by a programmatic holder, each
// in a fresh browser (cookie jar), as different people logging in would, over kept-alive
// connections as browsers do. Each browser comes from an address of its own (X-Forwarded-For,
// which a server with TRUST_PROXY=true takes, as behind its proxy): PostCert refuses proofs from
// one address past 30 failed or unfinished ones in 15 minutes, and a benchmark's thousands of
// people do not share one. Used by bench/run.ts and bench/login-flow.ts.
import { createHash, randomInt, webcrypto } from 'node:crypto'
import http from 'node:http'
import * as client from 'openid-client'
import pg from 'pg'
import { taggedUrl } from './cpu.ts'
import { TOKEN, type WrkRequest } from './wrk.ts'
import { createLoginProof } from '../src/holders/keyfile/login-proof.ts'
import { createSignatureCms } from '../src/holders/keyfile/signature-cms.ts'
import { createSignatureJws } from '../src/holders/keyfile/signature-jws.ts'
import { createTestSchema, schemaDatabase } from '../test/helpers/db.ts'
import { issueCertificate } from '../test/helpers/pki.ts'
import { newMasterKey } from '../test/helpers/process.ts'
import { freePort, startTestServer } from '../test/helpers/server.ts'

export interface Holder {
  id: string
  chain: Uint8Array[]
  privateKey: webcrypto.CryptoKey
}

/** How often a benchmark's schema is vacuumed and analyzed where autovacuum is off (benchSchema). */
const UPKEEP_MS = 5_000
let upkeepNoticed = false

/**
 * A schema of a benchmark's own (createTestSchema's), its tables kept as autovacuum keeps a
 * production cluster's where this cluster's autovacuum is off (as on the development machine):
 * vacuumed and analyzed every 5 s until it is dropped. Without statistics PostgreSQL never
 * replans: a connection keeps the generic plan it made of a prepared statement while the tables
 * were nearly empty, and a plan that cost nothing then may read every session row per token
 * lookup later. Measured on 2026-12-07, four connections per server: PostgreSQL's CPU per login
 * rose from 4.4 to 7.6 ms within a minute, and stayed at 3.3 ms on a schema analyzed this way.
 */
export async function benchSchema(): Promise<Awaited<ReturnType<typeof createTestSchema>>> {
  const schema = await createTestSchema()
  const owner = new pg.Client({ connectionString: schema.ownerUrl })
  await owner.connect()
  const { rows: [setting] } = await owner.query<{ autovacuum: string }>(`select current_setting('autovacuum') as autovacuum`)
  if (setting!.autovacuum === 'on') {
    await owner.end()
    return schema
  }
  if (!upkeepNoticed) console.error(`autovacuum is off on this PostgreSQL: the benchmark vacuums and analyzes its schema every ${UPKEEP_MS / 1000} s, as autovacuum would`)
  upkeepNoticed = true
  let done: Promise<void> = Promise.resolve()
  const timer = setInterval(() => {
    done = done.then(async () => {
      const { rows: [tables] } = await owner.query<{ names: string | null }>(`select string_agg(format('%I.%I', schemaname, tablename), ', ') as names from pg_tables where schemaname = $1`, [schema.schema])
      if (tables?.names) await owner.query(`vacuum (analyze) ${tables.names}`)
    }).catch((err: unknown) => console.error(`vacuum (analyze) of ${schema.schema} failed: ${(err as Error).message}`))
  }, UPKEEP_MS)
  return {
    ...schema,
    dropSchema: async () => {
      clearInterval(timer)
      await done
      await owner.end()
      await schema.dropSchema()
    },
  }
}

/**
 * What a benchmark's PostCert process will run on: a schema of its own, a free port and the
 * issuer there, a new master key, the relying party's redirect URI, and the application_name its
 * PostgreSQL backends go by (bench/cpu.ts counts theirs only).
 */
export async function benchTarget() {
  const schema = await benchSchema()
  const port = await freePort()
  return {
    schema, port, issuer: `http://127.0.0.1:${port}`, redirectUri: 'https://bench.example.kr/cb',
    masterKey: Buffer.from(newMasterKey(), 'base64url'), applicationName: `postcert-bench-${schema.schema}`,
  }
}

/**
 * The environment a benchmark's PostCert process starts with on its target: the schema (its
 * backends named by the target's application_name), the port and issuer, the master key, `dataDir`,
 * warnings only in the log, and each browser from an address of its own (TRUST_PROXY: see above).
 */
export function serverEnv(target: Awaited<ReturnType<typeof benchTarget>>, dataDir: string): Record<string, string> {
  return {
    ...target.schema.env, DATABASE_URL: taggedUrl(target.schema.env.DATABASE_URL!, target.applicationName), PORT: String(target.port), PUBLIC_URL: target.issuer,
    DATA_DIR: dataDir, POSTCERT_MASTER_KEY: target.masterKey.toString('base64url'), LOG_LEVEL: 'warn', TRUST_PROXY: 'true',
  }
}

/** A relying party and its subscribers, written to the schema by a PostCert context in this process. */
export async function prepareLogins(schema: Awaited<ReturnType<typeof createTestSchema>>, options: { issuer: string; masterKey: Buffer; redirectUri: string; subscribers: number }): Promise<{ rp: { client_id: string; client_secret: string }; holders: Holder[] }> {
  const prep = await startTestServer({
    database: schemaDatabase(schema),
    masterKey: options.masterKey, env: { PUBLIC_URL: options.issuer, LOG_LEVEL: 'silent' },
  })
  try {
    const rp = await prep.ctx.clients.add({ name: 'Bench Bank', redirectUris: [options.redirectUri], grantTypes: ['authorization_code', 'refresh_token'], scope: 'openid profile offline_access' })
    const ca = await prep.ctx.ca.issuing()
    const holders = await Promise.all(Array.from({ length: options.subscribers }, async (_, i) => {
      const id = `ps_bench_${i}`
      const now = new Date()
      await prep.ctx.db.insertInto('subscriber').values({ id, ci: `ci-${id}`, name: 'Bench', birthdate: '1990-01-01', phone_e164: '+821000000001', document_type: 'passport', document_last_digits: '0000', created_at: now, updated_at: now }).execute()
      const { certificate, key } = await issueCertificate(prep.ctx.authority, { subscriberId: id })
      const privateKey = await webcrypto.subtle.importKey('pkcs8', key.privateKey.export({ format: 'der', type: 'pkcs8' }), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
      return { id, chain: [certificate.der, new Uint8Array(ca.certificate.rawData)], privateKey }
    }))
    return { rp: { client_id: rp.client_id, client_secret: String(rp.client_secret) }, holders }
  } finally {
    await prep.close()
  }
}

/** The document of the benchmark's signatures, as a loan contract would be shown. */
const CONTRACT = '# 대출 약정서\n\n제1조 대출 금액은 **1,500,000원**입니다.'

/** What a page request answers; bodies are read whole. */
interface Answer { status: number; location?: string; text: string }

/** Kept-alive connections, as a browser keeps them (node:http: lighter than fetch for the load generator). */
export const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })

/** HTTP Basic client authentication. */
export const basic = (c: { client_id: string; client_secret: string }) => `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString('base64')}`

/** What an exchange over the shared agent gives: the response's status, headers and whole body. */
interface Exchanged { status: number; headers: http.IncomingHttpHeaders; rawHeaders: string[]; body: Buffer }

/** One request over the kept-alive agent, its response body read whole. */
function exchange(url: string, init: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string | Uint8Array }): Promise<Exchanged> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: init.method ?? 'GET', headers: init.headers, agent }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(init.body)
  })
}

/** A form POST (a token or introspection request) over the kept-alive agent. */
export async function postForm(url: string, body: string, authorization: string): Promise<{ status: number; text: string }> {
  const res = await exchange(url, { method: 'POST', headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' }, body })
  return { status: res.status, text: res.body.toString('utf8') }
}

/** openid-client's request body as bytes for node:http (it sends forms, JSON or bytes; never a stream here). */
function bodyBytes(body: client.CustomFetchOptions['body']): string | Uint8Array | undefined {
  if (body == null) return undefined
  if (typeof body === 'string' || body instanceof Uint8Array) return body
  if (body instanceof URLSearchParams) return body.toString()
  if (body instanceof ArrayBuffer) return new Uint8Array(body)
  throw new TypeError('a streamed request body is not supported by this benchmark')
}

/**
 * fetch for openid-client over node:http and the shared agent (it costs the load generator less
 * CPU than fetch, leaving more for the server). The relying party still does everything it would
 * (client authentication, PKCE, ID token signature and claims checks).
 */
export async function fetchOverAgent(url: string, options: client.CustomFetchOptions): Promise<Response> {
  const res = await exchange(url, { method: options.method, headers: options.headers, body: bodyBytes(options.body) })
  const headers = new Headers()
  for (let i = 0; i < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!)
  return new Response(res.status === 204 ? null : res.body, { status: res.status, headers })
}

/** A browser's cookie jar, as small as a load generator can make it: name=value, sent on the paths it was set for. */
export class Browser {
  readonly #cookies = new Map<string, { value: string; path: string }>()
  readonly #issuer: string
  readonly #address = `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`

  constructor(issuer: string) {
    this.#issuer = issuer
  }

  async request(path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
    const cookie = [...this.#cookies].filter(([, c]) => path.startsWith(c.path)).map(([name, c]) => `${name}=${c.value}`).join('; ')
    const res = await exchange(`${this.#issuer}${path}`, { ...init, headers: { ...init.headers, 'x-forwarded-for': this.#address, ...(cookie ? { cookie } : {}) } })
    for (const line of res.headers['set-cookie'] ?? []) this.#keep(line)
    return { status: res.status, location: res.headers.location, text: res.body.toString('utf8') }
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

/**
 * `count` rotating refresh-token chains, each begun by a login with offline access (holders taken
 * in turn). The function returned spends chain `chain`'s token at the token endpoint and keeps
 * the one that replaces it.
 */
export async function refreshChains(driver: LoginDriver, issuer: string, rp: { client_id: string; client_secret: string }, holders: Holder[], count: number): Promise<(chain: number) => Promise<void>> {
  return rotating(issuer, rp, await refreshTokens(driver, holders, count))
}

/** Spends chain `chain`'s refresh token (of `chains`, their first links) at the token endpoint and keeps the one that replaces it. */
export function rotating(issuer: string, rp: { client_id: string; client_secret: string }, chains: string[]): (chain: number) => Promise<void> {
  return async (chain) => {
    const answer = await postForm(`${issuer}/token`, `grant_type=refresh_token&refresh_token=${chains[chain]}`, basic(rp))
    if (answer.status !== 200) throw new Error(`refresh: ${answer.status} ${answer.text}`)
    chains[chain] = (JSON.parse(answer.text) as { refresh_token: string }).refresh_token
  }
}

/** The refresh request wrk sends over rotating tokens (runWrkRotating), client_secret_basic. */
export function rotatingRefreshRequest(rp: { client_id: string; client_secret: string }): WrkRequest & { body: string } {
  return { method: 'POST', path: '/token', headers: { authorization: basic(rp), 'content-type': 'application/x-www-form-urlencoded' }, body: `grant_type=refresh_token&refresh_token=${TOKEN}` }
}

/** The refresh tokens of `count` logins with offline access (holders taken in turn): the first links of as many rotating chains. */
export async function refreshTokens(driver: LoginDriver, holders: Holder[], count: number): Promise<string[]> {
  return await Promise.all(Array.from({ length: count }, async (_, i) => (await driver.flow(holders[i % holders.length]!, { offline: true })).refresh_token!))
}

/** A token response as openid-client gives it (with its ID token's claims). */
type Tokens = Awaited<ReturnType<typeof client.authorizationCodeGrant>>

/** Logs holders in at the relying party, as its users would. */
export class LoginDriver {
  readonly #issuer: string
  readonly #redirectUri: string
  readonly #config: client.Configuration

  private constructor(issuer: string, redirectUri: string, config: client.Configuration) {
    this.#issuer = issuer
    this.#redirectUri = redirectUri
    this.#config = config
  }

  static async discover(issuer: string, redirectUri: string, rp: { client_id: string; client_secret: string }): Promise<LoginDriver> {
    const config = await client.discovery(new URL(issuer), rp.client_id, {}, client.ClientSecretBasic(rp.client_secret), { execute: [client.allowInsecureRequests] })
    // The relying party's token and userinfo requests go over the same kept-alive connections.
    config[client.customFetch] = fetchOverAgent
    return new LoginDriver(issuer, redirectUri, config)
  }

  /** One complete login, then userinfo; `offline` asks for a refresh token too. Returns the token response. */
  async flow(holder: Holder, options: { offline?: boolean } = {}): Promise<Tokens> {
    const tokens = await this.#authorize(holder, options.offline ? { scope: 'openid profile offline_access', prompt: 'consent' } : {}, () => {
      throw new Error('a signing page during a login')
    })
    await client.fetchUserInfo(this.#config, tokens.access_token, tokens.claims()!.sub)
    return tokens
  }

  /**
   * One complete electronic signature: the institution asks for the document to be signed, the
   * holder logs in and signs it on the signing page (JWS and detached CMS, as the page's script
   * does), and the institution takes its signature evidence with the code. Returns the signature's id.
   */
  async sign(holder: Holder): Promise<string> {
    const detail = { type: 'postcert_signature', documents: [{ title: '대출 약정서', text: CONTRACT, text_format: 'markdown', sha256: createHash('sha256').update(CONTRACT).digest('base64url') }] }
    const tokens = await this.#authorize(holder, { authorization_details: JSON.stringify([detail]) }, async (browser, path, page) => {
      const payload = new TextEncoder().encode((JSON.parse(page.match(/id="sign-payload">([^<]+)</)![1]!) as { canonical: string }).canonical)
      const signedAt = new Date()
      const body = JSON.stringify({
        jws: await createSignatureJws(holder.privateKey, holder.chain, payload, signedAt),
        cms: Buffer.from(await createSignatureCms(holder.privateKey, holder.chain, payload, signedAt)).toString('base64'),
      })
      const signed = await browser.request(`${path}/sign/file`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': page.match(/data-csrf="([^"]+)"/)![1]! }, body })
      if (signed.status !== 200) throw new Error(`signature: ${signed.status} ${signed.text}`)
      return (JSON.parse(signed.text) as { redirect: string }).redirect
    })
    const [evidence] = (tokens.authorization_details ?? []) as { signature_id?: string }[]
    const id = evidence?.signature_id
    if (!id) throw new Error(`no signature evidence in the token response: ${JSON.stringify(tokens.authorization_details)}`)
    return id
  }

  /**
   * Authorization request -> login page -> certificate-file proof -> PostCert's pages (consent is
   * approved, a signing page goes to `signing`) -> code -> tokens, in a fresh browser.
   */
  async #authorize(holder: Holder, extra: Record<string, string>, signing: (browser: Browser, path: string, page: string) => Promise<string>): Promise<Tokens> {
    const issuer = this.#issuer
    const browser = new Browser(issuer)
    const verifier = client.randomPKCECodeVerifier()
    const state = client.randomState()
    const url = client.buildAuthorizationUrl(this.#config, {
      redirect_uri: this.#redirectUri, scope: 'openid profile', state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra,
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
      if (res.status === 200 && res.text.includes('id="sign-payload"')) {
        next = await signing(browser, target.pathname, res.text)
        continue
      }
      if (res.status === 200) {
        // The consent page: the first login of this subscriber at the institution, or offline access asked.
        const consentCsrf = res.text.match(/name="csrf" value="([^"]+)"/)![1]!
        next = (await browser.request(`${target.pathname}/consent`, {
          method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf: consentCsrf, decision: 'approve' }).toString(),
        })).location!
        continue
      }
      if (!res.location) throw new Error(`${target.pathname}: ${res.status} ${res.text.slice(0, 200)}`)
      next = res.location
    }
    return await client.authorizationCodeGrant(this.#config, new URL(next), { pkceCodeVerifier: verifier, expectedState: state })
  }
}
