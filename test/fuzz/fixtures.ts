// Fixtures: live values the placeholders name.

import { createHash, createPublicKey } from 'node:crypto'
import { CertID, OCSPRequest, Request, TBSRequest, id_pkix_ocsp_nonce } from '@peculiar/asn1-ocsp'
import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import { AlgorithmIdentifier, Certificate, Extension } from '@peculiar/asn1-x509'
import request from 'supertest'
import type { CryptoKey } from '../../src/holders/keyfile/compact-jws.ts'
import { createInitialAccessToken } from '../../src/oidc/initial-access-token.ts'
import { signInToPortal } from '../account/helpers.ts'
import { csrfOf, PERSON_1, PERSON_2, verifyPhone } from '../enrollment/helpers.ts'
import type { TestServer } from '../helpers/server.ts'
import { LoginHarness } from '../login/harness.ts'
import { SigningHarness } from '../signing/harness.ts'
import type { FuzzRequest } from './fuzz-request.ts'
import { SHA256 } from './pki-requests.ts'
import { encode } from './wire.ts'

/** The enrollment at the holder step is renewed this often (a code costs the person's SMS budget: 5 an hour). */
const HOLDER_ENROLLMENT_MS = 10 * 60 * 1000

type RelyingParty = Awaited<ReturnType<LoginHarness['relyingParty']>>
type Holder = Awaited<ReturnType<LoginHarness['subscriber']>>

/**
 * What a request may use up, renewed on its own:
 * - holder: the subscriber and certificate, with everything made with them (tokens, signature,
 *   the interactions, the portal session): after a revocation or suspension
 * - tokens: access, refresh and ID token (a refresh rotates, a revocation ends them)
 * - flow, signing: the login page's and the signing page's interaction
 * - portal: the portal session
 */
export type FixturePart = 'holder' | 'tokens' | 'flow' | 'signing' | 'portal'

/**
 * A registered client, a subscriber with a certificate file, their tokens and a signature, live
 * interactions (login and signing pages) with cookies and CSRF tokens, enrollments at three
 * steps, and a portal session. `renew()` makes new ones of what a request may have consumed.
 */
export class Fixtures {
  readonly values: Record<string, string> = {}
  ocspRequest: Uint8Array = new Uint8Array()
  evidence: unknown = {}
  /** The subscriber's key, for JWSs the fuzzer signs, and its public JWK (DPoP proofs name it). */
  signingKey: CryptoKey | undefined
  holderJwk: unknown = {}
  readonly #server: TestServer
  readonly #h: LoginHarness
  readonly #signing: SigningHarness
  #rp: RelyingParty | undefined
  #holder: Holder | undefined
  #holderEnrollmentAt = 0
  #people = 0
  #addresses = 0

  constructor(server: TestServer) {
    this.#server = server
    this.#h = new LoginHarness(server, server.ctx.clock)
    this.#signing = new SigningHarness(this.#h, server, server.ctx.clock)
  }

  static async create(server: TestServer): Promise<Fixtures> {
    const fixtures = new Fixtures(server)
    const rp = fixtures.#rp = await fixtures.#h.relyingParty({ name: '퍼즈은행', redirectUri: 'https://fuzz.example.kr/cb' })
    const iat = await createInitialAccessToken(server.ctx.host.provider, { days: 1, reusable: true })
    const ca = await server.ctx.ca.issuing()
    Object.assign(fixtures.values, {
      issuer: server.issuer, client_id: rp.clientId, client_secret: rp.clientSecret, redirect_uri: rp.redirectUri,
      basic: Buffer.from(`${encode(rp.clientId)}:${encode(rp.clientSecret)}`).toString('base64'), iat: iat.token,
      ca_b64: Buffer.from(ca.certificate.rawData).toString('base64'),
    })
    await fixtures.renew()
    return fixtures
  }

  /**
   * Renews the parts named (everything by default). A part that cannot be renewed with the
   * current subscriber (whose certificate a request revoked, say) is renewed with a new one.
   */
  async renew(parts: FixturePart[] = ['holder']): Promise<void> {
    if (!parts.includes('holder')) {
      try {
        for (const part of parts) await this.#renewPart(part)
        return
      } catch {
        // with a new subscriber below
      }
    }
    this.#holder = await this.#h.subscriber()
    for (const part of ['holder', 'tokens', 'flow', 'signing', 'portal'] as const) await this.#renewPart(part)
    await this.#renewEnrollments()
  }

  async #renewPart(part: FixturePart): Promise<void> {
    const [server, h, rp, holder] = [this.#server, this.#h, this.#rp!, this.#holder!]
    const uidOf = (p: string) => p.split('/').pop()!
    switch (part) {
      case 'holder': {
        this.signingKey = await h.webKey(holder.key)
        this.holderJwk = createPublicKey(holder.key.privateKey).export({ format: 'jwk' })
        this.evidence = (await this.#signing.sign(rp, holder)).evidence
        this.ocspRequest = await ocspRequestFor(server, holder.certificate.serial)
        Object.assign(this.values, {
          signature_id: String((this.evidence as { signature_id?: string }).signature_id), serial: holder.certificate.serial,
          cert_b64: Buffer.from(holder.certificate.der).toString('base64'), spki: holder.key.spki.toString('base64url'),
          ocsp_b64: encode(Buffer.from(this.ocspRequest).toString('base64')),
        })
        return
      }
      case 'tokens': {
        const { tokens } = await h.login(rp, holder, { scope: 'openid offline_access profile', prompt: 'consent' })
        Object.assign(this.values, { access_token: tokens.access_token, refresh_token: tokens.refresh_token ?? 'no-refresh-token', id_token: tokens.id_token ?? 'no-id-token' })
        return
      }
      case 'flow': {
        const flow = await h.begin(rp)
        Object.assign(this.values, { uid: flow.uid, csrf: flow.csrf, flow_cookie: cookiesOf(flow.browser, server.url, [`/interaction/${flow.uid}`, `/auth/${flow.uid}`]) })
        return
      }
      case 'signing': {
        const page = await this.#signing.toSigningPage(rp, holder)
        const uid = uidOf(page.step.path!)
        Object.assign(this.values, { sign_uid: uid, sign_csrf: page.csrf, sign_cookie: cookiesOf(page.flow.browser, server.url, [page.step.path!, `/auth/${uid}`]) })
        return
      }
      case 'portal': {
        const portal = await signInToPortal(h, server, holder)
        Object.assign(this.values, { portal_cookie: cookiesOf(portal.browser, server.url, ['/account']), portal_csrf: portal.csrf })
      }
    }
  }

  /** The start page's cookie and token, an enrollment at the phone step, and now and then one at the holder step. */
  async #renewEnrollments(): Promise<void> {
    const server = this.#server
    const start = await fetch(`${server.url}/enroll`)
    const enrolling = await this.#startEnrollment()
    Object.assign(this.values, {
      enroll_start_cookie: start.headers.getSetCookie().map((c) => c.split(';')[0]).join('; '),
      enroll_start_csrf: (await start.text()).match(/name="csrf" value="([^"]+)"/)?.[1] ?? 'no-csrf',
      enroll_cookie: cookiesOf(enrolling.browser, server.url, ['/enroll']), enroll_csrf: enrolling.csrf,
    })
    if (Date.now() - this.#holderEnrollmentAt > HOLDER_ENROLLMENT_MS) await this.#enrollToHolderStep()
  }

  /**
   * A browser that has started an enrollment, from an address of its own: enrollments, codes
   * and identity checks are limited per address (the fuzzer's own requests have theirs).
   */
  async #startEnrollment(): Promise<{ browser: request.Agent; csrf: string }> {
    const n = this.#addresses++
    const browser = request.agent(this.#server.url).set('X-Forwarded-For', `198.18.${Math.floor(n / 256) % 256}.${n % 256}`)
    const start = await browser.get('/enroll').expect(200)
    await browser.post('/enroll/start').type('form').send({ csrf: csrfOf(start.text) }).expect(303)
    const page = await browser.get('/enroll/phone').expect(200)
    return { browser, csrf: csrfOf(page.text) }
  }

  /** An enrollment with phone and identity proven, at the holder step (two people in turn: each has an SMS budget). */
  async #enrollToHolderStep(): Promise<void> {
    const server = this.#server
    const [person, e164] = this.#people++ % 2 === 0 ? [PERSON_1, '+821000000001'] : [PERSON_2, '+821000000002']
    const { browser, csrf } = await this.#startEnrollment()
    await verifyPhone(server, browser, csrf, person.phone, e164)
    await browser.post('/enroll/identity').type('form').send({ csrf, document_type: person.document_type, name: person.name, birthdate: person.birthdate, number: person.number, issue_date: person.issue_date }).expect(303)
    const page = await browser.get('/enroll/holder').expect(200)
    this.values.holder_enroll_cookie = cookiesOf(browser, server.url, ['/enroll'])
    this.values.holder_enroll_csrf = page.text.match(/data-csrf="([^"]+)"/)![1]!
    this.#holderEnrollmentAt = Date.now()
  }
}

/**
 * What a request that succeeded may have used up: an interaction it ended, the portal session
 * it closed, the certificate it revoked or suspended, a refresh token it rotated or a token it revoked.
 */
export function spentBy(request: FuzzRequest, status: number): FixturePart[] {
  const t = request.target
  // each view of the login page and each new challenge counts against the login: enough and it answers 429
  if (status === 429 && t.startsWith('/interaction/{{uid}}')) return ['flow']
  if (status === 429 && t.startsWith('/interaction/{{sign_uid}}')) return ['signing']
  if (status >= 400 || request.method !== 'POST') return []
  const body = request.body && 'text' in request.body ? request.body.text : ''
  const spent: FixturePart[] = []
  if (/\/certificates\/\{\{serial\}\}\/(revoke|suspend)/.test(t)) spent.push('holder')
  if (t.startsWith('/interaction/{{uid}}/') && !t.includes('/challenge')) spent.push('flow')
  if (t.startsWith('/interaction/{{sign_uid}}/') && !t.includes('/challenge')) spent.push('signing')
  if (t.startsWith('/account/logout') || t.startsWith('/account/institutions/')) spent.push('portal')
  if ((t === '/token' || t === '/token/revocation') && /\{\{(refresh|access)_token\}\}/.test(body)) spent.push('tokens')
  return spent
}

/** The Cookie header a browser (supertest agent) would send to these paths, each cookie once. */
function cookiesOf(browser: request.Agent, origin: string, paths: string[]): string {
  const domain = new URL(origin).hostname
  const byName = new Map<string, string>()
  for (const p of paths) {
    for (const cookie of browser.jar.getCookies({ domain, path: p, secure: false, script: false })) byName.set(cookie.name, cookie.value)
  }
  return [...byName].map(([name, value]) => `${name}=${value}`).join('; ')
}

/** A valid OCSP request (SHA-256 CertID, with a nonce) for one of our certificates. */
async function ocspRequestFor(server: TestServer, serialHex: string): Promise<Uint8Array> {
  const issuer = AsnConvert.parse((await server.ctx.ca.issuing()).certificate.rawData, Certificate)
  const sha256 = (data: ArrayBuffer | Uint8Array) => createHash('sha256').update(new Uint8Array(data)).digest()
  const hex = serialHex.length % 2 ? `0${serialHex}` : serialHex
  const serialBytes = Buffer.from(hex, 'hex')
  const integer = serialBytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), serialBytes]) : serialBytes
  return new Uint8Array(AsnConvert.serialize(new OCSPRequest({
    tbsRequest: new TBSRequest({
      requestList: [new Request({
        reqCert: new CertID({
          hashAlgorithm: new AlgorithmIdentifier({ algorithm: SHA256, parameters: null }),
          issuerNameHash: new OctetString(sha256(AsnConvert.serialize(issuer.tbsCertificate.subject))),
          issuerKeyHash: new OctetString(sha256(issuer.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey)),
          serialNumber: new Uint8Array(integer).buffer,
        }),
      })],
      requestExtensions: [new Extension({ extnID: id_pkix_ocsp_nonce, critical: false, extnValue: new OctetString(Buffer.from('041000112233445566778899aabbccddeeff', 'hex')) })],
    }),
  })))
}
