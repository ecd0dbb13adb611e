import assert from 'node:assert/strict'
import { generateKeyPairSync, randomBytes, webcrypto } from 'node:crypto'
import * as client from 'openid-client'
import request from 'supertest'
import { createInitialAccessToken, type InitialAccessTokenOptions } from '../../src/oidc/initial-access-token.ts'
import { RunningClock } from '../../src/util/clock.ts'
import type { ContextOverrides } from '../../src/context.ts'
import { freePort, startTestServer, type TestServer } from '../helpers/server.ts'
import { NEEDS_NGINX, startTlsProxy, trustTestCa, type TlsProxy } from '../helpers/tls-proxy.ts'
import { LoginHarness, type Holder } from '../login/harness.ts'
import { checkAuthorizationError, checkIdToken, checkServerConfiguration, checkServerJwks, checkTokenResponse } from './checks.ts'

/** Where the suite's callbacks would be: any origin but PostCert's (nothing listens there). */
export const SUITE = 'https://suite.example.org/test/a/postcert'

export type Alg = 'RS256' | 'PS256' | 'ES256'

/** A relying party as the suite registers it, with openid-client configured for its auth method. */
export interface Rp {
  config: client.Configuration
  clientId: string
  registered: Record<string, any>
  redirectUri: string
  /** The private key of the client's registered `jwks` (webcrypto; private_key_jwt signs with it), and its public JWK. */
  key?: { privateKey: CryptoKey; jwk: Record<string, unknown>; alg: Alg }
}

/**
 * What a browser reached after following PostCert's redirects: the relying party's callback,
 * or a PostCert page (login, consent, error) with its status.
 */
export interface Step {
  callback?: URL
  page?: string
  status?: number
  path?: string
}

type CryptoKey = webcrypto.CryptoKey

/** A client key pair for private_key_jwt or DPoP. */
export async function clientKey(alg: Alg, kid = `${alg}-${randomBytes(4).toString('hex')}`) {
  const pair = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 })
  const algorithm = alg === 'ES256' ? { name: 'ECDSA', namedCurve: 'P-256' } : alg === 'PS256' ? { name: 'RSA-PSS', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }
  const privateKey = await webcrypto.subtle.importKey('pkcs8', pair.privateKey.export({ format: 'der', type: 'pkcs8' }), algorithm, false, ['sign'])
  return { privateKey, jwk: { ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' } as Record<string, unknown>, alg }
}

/**
 * The OpenID Foundation's test plans, replayed in-process: openid-client plays the suite's
 * relying party and the programmatic certificate-file holder plays the user. Each module's test
 * sends what the module sends and asserts what it asserts (docs/conformance.md).
 */
export class Conformance {
  readonly server: TestServer
  /** Real time, moved ahead where a module's wait is not worth waiting (the modules that really wait use wait()). */
  readonly clock: RunningClock
  readonly h: LoginHarness
  /** The test user: one subscriber with a certificate file, as the suite's tester would use. */
  readonly user: Holder

  /** Where the suite reaches PostCert: the TLS proxy's https origin, or the server itself. */
  readonly url: string
  readonly proxy?: TlsProxy

  private constructor(server: TestServer, clock: RunningClock, h: LoginHarness, user: Holder, proxy?: TlsProxy) {
    this.server = server
    this.clock = clock
    this.h = h
    this.user = user
    this.proxy = proxy
    this.url = proxy?.origin ?? server.url
  }

  /**
   * PostCert for a plan. With `tls`, as deployed: behind nginx with the shipped server block
   * (deploy/nginx/postcert.conf), an https issuer, TRUST_PROXY; every request of the replay goes
   * through the proxy, and this process trusts the proxy's test CA.
   */
  static async start(options: { env?: Record<string, string>; overrides?: ContextOverrides; hostname?: string; tls?: boolean } = {}): Promise<Conformance> {
    const clock = new RunningClock()
    // Without nginx (a machine .ci/run did not prepare) the plan runs over plain HTTP, and says so.
    if (options.tls && NEEDS_NGINX) process.emitWarning(`the conformance replay runs without its TLS proxy: ${NEEDS_NGINX}`)
    const port = options.tls && !NEEDS_NGINX ? await freePort() : undefined
    const env = port ? { ...options.env, PUBLIC_URL: `https://localhost:${port}`, TRUST_PROXY: 'true' } : options.env
    const server = await startTestServer({ env, hostname: options.hostname, overrides: { clock, ...options.overrides } })
    let proxy: TlsProxy | undefined
    if (port) {
      try {
        proxy = await startTlsProxy(port, new URL(server.url).host)
      } catch (err) {
        await server.close()
        throw err
      }
      trustTestCa(proxy.caPem)
    }
    const h = new LoginHarness(server, clock, proxy?.origin)
    return new Conformance(server, clock, h, await h.subscriber(), proxy)
  }

  /** Called when a module starts a real wait (runPlan lets the other modules run meanwhile). */
  onWait?: () => void

  /** The same server, user and clock, with a list of its own of the clients to delete: for a module run beside the others. */
  fork(): Conformance {
    return new Conformance(this.server, this.clock, this.h, this.user, this.proxy)
  }

  /** A real wait, as the module waits (WaitFor30Seconds, ...): the server's time really passes. */
  async wait(seconds: number): Promise<void> {
    this.onWait?.()
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  }

  get issuer(): string {
    return this.server.issuer
  }

  async close(): Promise<void> {
    await this.proxy?.close()
    await this.server.close()
  }

  /** A browser with its own cookies (the suite starts every module without PostCert's). */
  browser(): request.Agent {
    return request.agent(this.url)
  }

  async discovery(): Promise<Record<string, any>> {
    return (await request(this.url).get('/.well-known/openid-configuration').expect(200)).body
  }

  /** The server's JWKS (jwks_uri of discovery). */
  async jwks(): Promise<Record<string, any>> {
    return (await request(this.url).get(new URL((await this.discovery()).jwks_uri).pathname).expect(200)).body
  }

  /**
   * What every module of a plan checks before it starts (configure() of the suite's abstract
   * modules): the discovery document, the client authentication its variant uses, and the JWKS.
   */
  async sharedChecks(authMethod: string): Promise<void> {
    const res = await request(this.url).get('/.well-known/openid-configuration').expect(200)
    assert.match(String(res.headers['content-type']), /^application\/json/)
    checkServerConfiguration(res.body, authMethod)
    await checkServerJwks(await this.jwks())
  }

  /**
   * Dynamic registration as the suite does it (client.initial_access_token in its config). By
   * default the token carries `pkce-optional`, as the operator issues it for the certification
   * suite, whose OpenID Connect plans send no PKCE (not for FAPI clients, which always use it).
   */
  async register(metadata: Record<string, unknown> = {}, options: { iat?: Partial<InitialAccessTokenOptions>; alg?: Alg } = {}): Promise<Rp> {
    const method = typeof metadata.token_endpoint_auth_method === 'string' ? metadata.token_endpoint_auth_method : 'client_secret_basic'
    const key = method === 'private_key_jwt' ? await clientKey(options.alg ?? 'RS256') : undefined
    const body = { redirect_uris: [`${SUITE}/callback`], client_name: 'conformance suite', ...(key && !metadata.jwks_uri ? { jwks: { keys: [key.jwk] } } : {}), ...metadata }
    const res = await this.registration(body, options.iat)
    assert.equal(res.status, 201, res.text)
    return await this.rp(res.body, key)
  }

  /** Clients the current module registered as the suite does: deleted at its end (cleanupModule). */
  readonly #moduleClients: Rp[] = []

  /**
   * A client registered as the suite registers each module's own (OIDCCCreateDynamicClientRegistrationRequest:
   * code only, an RS256 key without kid in `jwks` whatever the authentication, contacts), checked as
   * CallDynamicRegistrationEndpointAndVerifySuccessfulResponse checks it, and deleted when the
   * module ends. `metadata` is added to the request.
   */
  async suiteClient(metadata: Record<string, unknown> = {}, options: { iat?: Partial<InitialAccessTokenOptions> } = {}): Promise<Rp> {
    const key = await clientKey('RS256')
    delete key.jwk.kid
    const body = {
      client_name: 'OpenID conformance suite, client 1', grant_types: ['authorization_code'], jwks: { keys: [key.jwk] },
      token_endpoint_auth_method: 'client_secret_basic', response_types: ['code'], redirect_uris: [`${SUITE}/callback`],
      contacts: ['certification@oidf.org'], ...metadata,
    }
    const registered = this.registered(await this.registration(body, options.iat))
    // The key is the client's whatever its authentication (a logout module signs a fake ID token with it).
    const rp = await this.rp(registered, key)
    this.#moduleClients.push(rp)
    return rp
  }

  /** A registration response as CallDynamicRegistrationEndpointAndVerifySuccessfulResponse checks it; its body. */
  registered(res: request.Response): Record<string, any> {
    assert.equal(res.status, 201, res.text)
    assert.match(String(res.headers['content-type']), /^application\/json/, 'EnsureContentTypeJson')
    assert.equal(res.body.error, undefined, 'CheckNoErrorFromDynamicRegistrationEndpoint')
    assert.ok(res.body.client_id, 'ExtractDynamicRegistrationResponse')
    // VerifyClientManagementCredentials: both or neither, the URI https on a deployed issuer.
    assert.equal(res.body.registration_client_uri, `${this.issuer}/reg/${res.body.client_id}`)
    assert.ok(res.body.registration_access_token, 'a registration access token')
    if ('client_secret' in res.body) assert.notEqual(res.body.client_secret_expires_at, undefined, 'VerifyDynamicRegistrationResponseClientCredentials')
    return res.body
  }

  /** cleanup() of the suite's modules (UnregisterDynamicallyRegisteredClient): each client the module registered is deleted, 204. */
  async cleanupModule(): Promise<void> {
    for (const rp of this.#moduleClients.splice(0)) {
      const res = await request(this.url).delete(new URL(rp.registered.registration_client_uri).pathname)
        .set('Authorization', `Bearer ${rp.registered.registration_access_token}`).set('Accept', 'application/json')
      assert.equal(res.status, 204, `the client ${rp.clientId} is deleted: ${res.status} ${res.text}`)
    }
  }

  /** A registration request, answered as it is (for the negative modules). */
  async registration(body: Record<string, unknown>, iat: Partial<InitialAccessTokenOptions> | false = {}) {
    const req = request(this.url).post('/reg').set('Content-Type', 'application/json')
    if (iat !== false) {
      const { token } = await createInitialAccessToken(this.server.ctx.host.provider, { days: 1, pkceOptional: !iat.fapi, ...iat })
      req.set('Authorization', `Bearer ${token}`)
    }
    return await req.send(JSON.stringify(body))
  }

  /** openid-client for a registration response. */
  async rp(registered: Record<string, any>, key?: Rp['key']): Promise<Rp> {
    const method = registered.token_endpoint_auth_method
    const auth = method === 'client_secret_post' ? client.ClientSecretPost(registered.client_secret)
      : method === 'none' ? client.None()
        : method === 'private_key_jwt' ? client.PrivateKeyJwt({ key: key!.privateKey, kid: String(key!.jwk.kid) })
          : client.ClientSecretBasic(registered.client_secret)
    const config = await client.discovery(new URL(this.issuer), registered.client_id, {}, auth, { execute: [client.allowInsecureRequests] })
    return { config, clientId: registered.client_id, registered, redirectUri: registered.redirect_uris[0], key }
  }

  /**
   * Sends the browser to the authorization endpoint with the suite's usual parameters
   * (response_type code, scope openid, state, nonce), `params` on top; a parameter set to
   * undefined is left out. GET, or a form POST (oidcc-ensure-post-request-succeeds).
   */
  async authorize(rp: Rp, params: Record<string, string | undefined> = {}, browser = this.browser(), method: 'GET' | 'POST' = 'GET') {
    const all: Record<string, string | undefined> = {
      client_id: rp.clientId, response_type: 'code', scope: 'openid', redirect_uri: rp.redirectUri,
      state: client.randomState(), nonce: client.randomNonce(), ...params,
    }
    const query = new URLSearchParams(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined))
    const res = method === 'GET' ? await browser.get(`/auth?${query}`) : await browser.post('/auth').type('form').send(query.toString())
    return { step: await this.follow(browser, res), browser, state: all.state, nonce: all.nonce, params: all }
  }

  /** Follows PostCert's redirects until the relying party's callback or a page. */
  async follow(browser: request.Agent, res: request.Response): Promise<Step> {
    for (let i = 0; i < 8; i++) {
      if (res.status !== 302 && res.status !== 303) return { page: res.text, status: res.status, path: new URL(res.request.url).pathname }
      const url = new URL(res.headers.location!, this.url)
      if (url.origin !== new URL(this.url).origin) return { callback: url }
      res = await browser.get(url.pathname + url.search)
    }
    throw new Error('too many redirects')
  }

  /** The user logs in on the login page `step` shows (and registers at the institution if asked). */
  async login(browser: request.Agent, step: Step, user = this.user): Promise<URL> {
    assert.ok(step.page && /^\/interaction\//.test(step.path ?? ''), `a login page, not ${step.callback ?? step.status}`)
    const uid = step.path!.split('/')[2]!
    const csrf = step.page!.match(/data-csrf="([^"]+)"/)![1]!
    const { response } = await this.h.prove({ browser, uid, csrf } as never, user)
    assert.equal(response.status, 200, response.text)
    return await this.h.consentIfAsked(browser, await this.h.follow(browser, response.body.redirect))
  }

  /** A whole authorization: the request, the login when asked, the callback. */
  async authorizeAndLogin(rp: Rp, params: Record<string, string | undefined> = {}, browser = this.browser(), method: 'GET' | 'POST' = 'GET') {
    const started = await this.authorize(rp, params, browser, method)
    const callback = started.step.callback ?? await this.login(browser, started.step)
    return { ...started, callback }
  }

  /** The code exchange with openid-client, which checks the ID token as the suite does. */
  async exchange(rp: Rp, flow: { callback: URL; state?: string; nonce?: string }, checks: { pkceCodeVerifier?: string; maxAge?: number } = {}) {
    const tokens = await client.authorizationCodeGrant(rp.config, flow.callback, {
      expectedState: flow.state ?? client.skipStateCheck, expectedNonce: flow.nonce, ...checks,
    })
    // openid-client does not verify a token-endpoint ID token's signature; the suite does, every time.
    checkTokenResponse(tokens)
    assert.ok(tokens.id_token, 'an ID token (ExtractIdTokenFromTokenResponse)')
    await checkIdToken(tokens.id_token, {
      issuer: this.issuer, clientId: rp.clientId, jwks: await this.jwks(), nonce: flow.nonce,
      code: flow.callback.searchParams.get('code') ?? undefined, accessToken: tokens.access_token,
    })
    return tokens
  }

  /** The code flow of oidcc-server: authorize, log in, exchange, and call userinfo. */
  async codeFlow(rp: Rp, params: Record<string, string | undefined> = {}, browser = this.browser()) {
    const flow = await this.authorizeAndLogin(rp, params, browser)
    assert.equal(flow.callback.searchParams.get('error'), null, flow.callback.href)
    const tokens = await this.exchange(rp, flow)
    const userinfo = await client.fetchUserInfo(rp.config, tokens.access_token, tokens.claims()!.sub)
    return { ...flow, tokens, userinfo }
  }

  /**
   * An error the authorization endpoint redirected back with, checked as every module checks one
   * (checks.ts checkAuthorizationError): the state sent (none if none was), iss, no code, nothing
   * unexpected. `checkState: false` leaves the state to the caller (a request whose state could
   * not be read).
   */
  authorizationError(callback: URL | undefined, state?: string, { checkState = true, redirectUri }: { checkState?: boolean; redirectUri?: string } = {}): string {
    assert.ok(callback, 'redirected back to the relying party')
    if (!checkState) state = callback.searchParams.get('state') ?? undefined
    return checkAuthorizationError(callback, this.issuer, state, redirectUri)
  }

  /** PostCert showed an error page instead of redirecting (an untrusted redirect_uri). */
  static errorPage(step: Step): string {
    assert.equal(step.callback, undefined, `no redirect to ${step.callback}`)
    assert.ok(step.status! >= 400 && step.status! < 500, `a 4xx error page, not ${step.status}`)
    return step.page!
  }
}
