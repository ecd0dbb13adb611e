import assert from 'node:assert/strict'
import { webcrypto } from 'node:crypto'
import * as client from 'openid-client'
import request from 'supertest'
import { createLoginProof } from '../../src/holders/keyfile/login-proof.ts'
import type { NewClient } from '../../src/oidc/client-store.ts'
import type { Clock } from '../../src/util/clock.ts'
import { issueCertificate, type SubscriberKey } from '../helpers/pki.ts'
import type { TestServer } from '../helpers/server.ts'

export type Flow = Awaited<ReturnType<LoginHarness['begin']>>
export type Holder = Awaited<ReturnType<LoginHarness['subscriber']>>

/**
 * Drives certificate login the way the login page does, with a programmatic certificate-file
 * holder, and the relying party's side with openid-client.
 */
export class LoginHarness {
  readonly server: TestServer
  readonly clock: Clock
  /** Where browsers reach PostCert: a TLS proxy's origin in front of it, or the server itself. */
  readonly url: string

  constructor(server: TestServer, clock: Clock, url = server.url) {
    this.server = server
    this.clock = clock
    this.url = url
  }

  /** Registers a relying party and returns its openid-client configuration and redirect URI. */
  async relyingParty(input: Partial<NewClient> & { redirectUri: string }): Promise<{ config: client.Configuration; redirectUri: string; clientId: string; clientSecret: string }> {
    const store = this.server.ctx.clients
    const rp = await store.add({ name: input.name ?? 'Test Bank', redirectUris: [input.redirectUri], ...input })
    const config = await client.discovery(new URL(this.server.issuer), rp.client_id, {}, client.ClientSecretBasic(String(rp.client_secret)), { execute: [client.allowInsecureRequests] })
    return { config, redirectUri: input.redirectUri, clientId: rp.client_id, clientSecret: String(rp.client_secret) }
  }

  /** A subscriber with a certificate file, as enrollment leaves them. */
  async subscriber() {
    const id = `ps_test_${Math.random().toString(36).slice(2)}`
    const now = this.clock.now()
    await this.server.ctx.db.insertInto('subscriber').values({
      id, ci: `ci-${id}`, name: '김우정', birthdate: '1990-01-15', phone_e164: '+821000000001',
      document_type: 'resident_card', document_last_digits: '0001', created_at: now, updated_at: now,
    }).execute()
    const { certificate, key } = await issueCertificate(this.server.ctx.authority, { subscriberId: id })
    return { id, certificate, key }
  }

  async webKey(key: SubscriberKey) {
    const pkcs8 = key.privateKey.export({ format: 'der', type: 'pkcs8' })
    return await webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign'])
  }

  /**
   * An authorization request as a browser sends it; `browser` keeps PostCert's cookies across flows.
   * `pushed` is a request already pushed (PAR): the browser only carries its request_uri.
   */
  async authorize(rp: { config: client.Configuration; redirectUri: string }, extra: Record<string, string> = {}, browser = request.agent(this.url), pushed?: URL) {
    const verifier = client.randomPKCECodeVerifier()
    const state = client.randomState()
    const nonce = client.randomNonce()
    const url = pushed ?? client.buildAuthorizationUrl(rp.config, {
      redirect_uri: rp.redirectUri, scope: 'openid profile phone', state, nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', ...extra,
    })
    const location = (await browser.get(url.pathname + url.search).expect(303)).headers.location!
    return { browser, location, verifier, state, nonce, rp }
  }

  /** Authorization request -> login page. */
  async begin(rp: { config: client.Configuration; redirectUri: string }, extra: Record<string, string> = {}, browser = request.agent(this.url), pushed?: URL) {
    const started = await this.authorize(rp, extra, browser, pushed)
    assert.match(started.location, /^\/interaction\//, 'the login page')
    const uid = started.location.split('/').pop()!
    const page = await started.browser.get(started.location).expect(200)
    const csrf = page.text.match(/data-csrf="([^"]+)"/)![1]!
    return { ...started, uid, csrf, page }
  }

  api(browser: request.Agent, csrf: string, path: string, body: unknown = {}) {
    return browser.post(path).set('Content-Type', 'application/json').set('X-CSRF-Token', csrf).send(JSON.stringify(body))
  }

  async prove(flow: Flow, holder: Holder, overrides: Record<string, unknown> = {}) {
    const { challenge } = (await this.api(flow.browser, flow.csrf, `/interaction/${flow.uid}/challenge`).expect(200)).body
    const ca = await this.server.ctx.ca.issuing()
    const proof = await createLoginProof(await this.webKey(holder.key), [holder.certificate.der, new Uint8Array(ca.certificate.rawData)], {
      challenge, aud: this.server.issuer, interaction: flow.uid, iat: Math.floor(this.clock.now().getTime() / 1000), ...overrides,
    })
    return { proof, response: await this.api(flow.browser, flow.csrf, `/interaction/${flow.uid}/login/file`, { proof }) }
  }

  /** Follows redirects inside PostCert until the relying party's callback or a page. */
  async follow(browser: request.Agent, location: string): Promise<{ callback?: URL; page?: string; path?: string }> {
    let next = location
    for (let i = 0; i < 6; i++) {
      const url = new URL(next, this.url)
      // PostCert writes its own URLs with the issuer's origin, which may name the host otherwise (localhost).
      if (url.origin !== new URL(this.url).origin && url.origin !== new URL(this.server.issuer).origin) return { callback: url }
      const res = await browser.get(url.pathname + url.search)
      if (res.status === 200) return { page: res.text, path: url.pathname }
      next = res.headers.location!
    }
    throw new Error('too many redirects')
  }

  /** Approves the consent page if shown; returns the callback. */
  async consentIfAsked(browser: request.Agent, step: { callback?: URL; page?: string; path?: string }): Promise<URL> {
    if (step.callback) return step.callback
    const csrf = step.page!.match(/name="csrf" value="([^"]+)"/)![1]!
    const approved = await browser.post(`${step.path}/consent`).type('form').send({ csrf, decision: 'approve' }).expect(303)
    const next = await this.follow(browser, approved.headers.location!)
    assert.ok(next.callback, 'back at the relying party')
    return next.callback
  }

  /** A complete login: proof, consent if asked, code exchange. */
  async login(rp: { config: client.Configuration; redirectUri: string }, holder: Holder, extra: Record<string, string> = {}, browser = request.agent(this.url)) {
    const flow = await this.begin(rp, extra, browser)
    const { response } = await this.prove(flow, holder)
    assert.equal(response.status, 200, response.text)
    let reached = await this.follow(flow.browser, response.body.redirect)
    // Inside the renewal window the login shows its notice first; the subscriber goes on.
    if (reached.path?.endsWith('/expiring')) reached = await this.follow(flow.browser, reached.page!.match(/href="(\/auth\/[^"]+)"/)![1]!)
    const callback = await this.consentIfAsked(flow.browser, reached)
    const tokens = await client.authorizationCodeGrant(rp.config, callback, { pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce })
    return { tokens, browser: flow.browser }
  }
}
