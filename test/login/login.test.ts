import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import * as client from 'openid-client'
import request from 'supertest'
import { createLoginProof } from '../../src/holders/keyfile/login-proof.ts'
import { ACR_HIGH, ACR_SUBSTANTIAL } from '../../src/possession/assurance.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { LoginHarness, type Flow, type Holder } from './harness.ts'

const REDIRECT_URI = 'https://rp.example.kr/callback'

describe('certificate login with a certificate file (programmatic holder)', () => {
  let server: TestServer
  let config: client.Configuration
  let otherSector: client.Configuration
  let ciClient: client.Configuration
  const clock = new ManualClock()

  before(async () => {
    server = await startTestServer({ overrides: { clock } })
    const store = server.ctx.clients
    const rp = await store.add({ name: '데모은행', redirectUris: [REDIRECT_URI] })
    const other = await store.add({ name: 'Other Bank', redirectUris: ['https://other.example.kr/cb'] })
    const discover = (c: typeof rp) => client.discovery(new URL(server.issuer), c.client_id, {}, client.ClientSecretBasic(String(c.client_secret)), { execute: [client.allowInsecureRequests] })
    const allowed = await store.add({ name: 'CI Bank', redirectUris: ['https://ci.example.kr/cb'], metadata: { postcert_ci_allowed: true } })
    config = await discover(rp)
    otherSector = await discover(other)
    ciClient = await discover(allowed)
    h = new LoginHarness(server, clock)
  })
  after(async () => { await server.close() })

  // Thin wrappers over the shared harness, in the shape these tests were written in.
  let h: LoginHarness
  const subscriber = () => h.subscriber()
  const webKey = (key: Holder['key']) => h.webKey(key)
  const begin = (cfg = config, redirectUri = REDIRECT_URI, extra: Record<string, string> = {}) => h.begin({ config: cfg, redirectUri }, extra)
  const api = (browser: request.Agent, csrf: string, path: string, body: unknown = {}) => h.api(browser, csrf, path, body)
  const prove = (flow: Flow, holder: Holder, overrides: Record<string, unknown> = {}) => h.prove(flow, holder, overrides)
  const follow = async (browser: request.Agent, location: string) => {
    const step = await h.follow(browser, location)
    return { callback: step.callback, consentPage: step.page, consentPath: step.path }
  }

  it('logs in, asks to register with the institution the first time, and returns verified claims', async () => {
    const holder = await subscriber()
    const flow = await begin()
    assert.match(flow.page.text, /데모은행에서 로그인을 요청했습니다/)
    const { response } = await prove(flow, holder)
    assert.equal(response.status, 200, response.text)
    const consent = await follow(flow.browser, response.body.redirect)
    assert.ok(consent.consentPage, 'the consent page')
    assert.match(consent.consentPage!, /데모은행에 인증서를 등록하시겠습니까/)
    assert.match(consent.consentPage!, /휴대폰 번호/)
    const csrf = consent.consentPage!.match(/name="csrf" value="([^"]+)"/)![1]!
    const approved = await flow.browser.post(`${consent.consentPath}/consent`).type('form').send({ csrf, decision: 'approve' }).expect(303)
    const { callback } = await follow(flow.browser, approved.headers.location!)
    assert.ok(callback)

    const tokens = await client.authorizationCodeGrant(config, callback!, { pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce })
    const claims = tokens.claims()!
    assert.equal(claims.acr, ACR_SUBSTANTIAL)
    assert.deepEqual(claims.amr, ['swk', 'pwd'])
    assert.notEqual(claims.sub, holder.id, 'the subject is pairwise, not the subscriber id')
    // An HMAC of the sector and the subscriber under the pairwise salt's UTF-8 bytes, as it has
    // always been: the key imported once (#19) must give every subscriber the subject they had.
    const [salt] = await server.ctx.secrets.randomKeys('pairwise-salt')
    assert.equal(claims.sub, createHmac('sha256', salt!).update(`rp.example.kr:${holder.id}`).digest('base64url'))
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
    assert.equal(info.name, '김우정')
    assert.equal(info.birthdate, '1990-01-15')
    assert.equal(info.phone_number, '+821000000001')

    // Second time: registered already, no consent page.
    const again = await begin()
    const second = await prove(again, holder)
    const straight = await follow(again.browser, second.response.body.redirect)
    assert.ok(straight.callback, 'straight back to the institution')
    const tokens2 = await client.authorizationCodeGrant(config, straight.callback!, { pkceCodeVerifier: again.verifier, expectedState: again.state, expectedNonce: again.nonce })
    assert.equal(tokens2.claims()!.sub, claims.sub, 'the same subject at the same institution')
  })

  it('gives another institution another subject', async () => {
    const holder = await subscriber()
    const subs: string[] = []
    for (const [cfg, uri] of [[config, REDIRECT_URI], [otherSector, 'https://other.example.kr/cb']] as const) {
      const flow = await begin(cfg, uri)
      const { response } = await prove(flow, holder)
      let step = await follow(flow.browser, response.body.redirect)
      if (step.consentPage) {
        const csrf = step.consentPage.match(/name="csrf" value="([^"]+)"/)![1]!
        const approved = await flow.browser.post(`${step.consentPath}/consent`).type('form').send({ csrf, decision: 'approve' }).expect(303)
        step = await follow(flow.browser, approved.headers.location!)
      }
      const tokens = await client.authorizationCodeGrant(cfg, step.callback!, { pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce })
      subs.push(tokens.claims()!.sub)
    }
    assert.notEqual(subs[0], subs[1])
  })

  it('accepts the challenge that comes with the login page once, for that login only', async () => {
    const holder = await subscriber()
    const flow = await begin()
    const embedded = JSON.parse(flow.page.text.match(/<script type="application\/json" id="login-challenge">([^<]+)<\/script>/)![1]!)
    assert.equal(embedded.passkey.challenge, embedded.challenge, 'the passkey options are over the same challenge')
    assert.equal(embedded.passkey.userVerification, 'required')
    const other = await begin()
    const ca = await server.ctx.ca.issuing()
    const sign = async (uid: string) => createLoginProof(await webKey(holder.key), [holder.certificate.der, new Uint8Array(ca.certificate.rawData)], {
      challenge: embedded.challenge, aud: server.issuer, interaction: uid, iat: Math.floor(clock.now().getTime() / 1000),
    })
    const foreign = await api(other.browser, other.csrf, `/interaction/${other.uid}/login/file`, { proof: await sign(other.uid) }).expect(400)
    assert.equal(foreign.body.error, 'challenge_invalid', 'another login\'s challenge')
    const proof = await sign(flow.uid)
    await api(flow.browser, flow.csrf, `/interaction/${flow.uid}/login/file`, { proof }).expect(200)
    const again = await api(flow.browser, flow.csrf, `/interaction/${flow.uid}/login/file`, { proof }).expect(400)
    assert.equal(again.body.error, 'challenge_invalid', 'used once')
  })

  it('refuses a replayed proof, a proof for another login, and one for another issuer', async () => {
    const holder = await subscriber()
    const first = await begin()
    const { proof, response } = await prove(first, holder)
    assert.equal(response.status, 200)
    const second = await begin()
    const replayed = await api(second.browser, second.csrf, `/interaction/${second.uid}/login/file`, { proof }).expect(400)
    assert.equal(replayed.body.error, 'invalid_proof', 'made for another login')
    const sameLogin = await begin()
    const { challenge } = (await api(sameLogin.browser, sameLogin.csrf, `/interaction/${sameLogin.uid}/challenge`).expect(200)).body
    void challenge
    const elsewhere = await prove(sameLogin, holder, { aud: 'https://evil.example' })
    assert.equal(elsewhere.response.status, 400)
    assert.equal(elsewhere.response.body.error, 'invalid_proof')
  })

  it('refuses a revoked certificate and an expired one with the right message', async () => {
    const revoked = await subscriber()
    await server.ctx.authority.revoke(revoked.certificate.serial, 'keyCompromise')
    const flow = await begin()
    const refused = await prove(flow, revoked)
    assert.equal(refused.response.status, 403)
    assert.equal(refused.response.body.error, 'certificate_revoked')

    const expiring = await subscriber()
    clock.advance((expiring.certificate.notAfter.getTime() - clock.now().getTime()) / 1000 + 1)
    try {
      const late = await begin()
      const expired = await prove(late, expiring)
      assert.equal(expired.response.body.error, 'certificate_expired')
    } finally {
      clock.advance(-((expiring.certificate.notAfter.getTime() - Date.now()) / 1000 + 1))
    }
  })

  it('locks a certificate after five failed proofs its own key signed (made for another login)', async () => {
    const holder = await subscriber()
    for (let i = 0; i < 5; i++) {
      const flow = await begin()
      const { response } = await prove(flow, holder, { interaction: 'another-login' })
      assert.equal(response.status, 400)
      assert.equal(response.body.error, 'invalid_proof')
    }
    const flow = await begin()
    const locked = await prove(flow, holder)
    assert.equal(locked.response.status, 429)
    assert.equal(locked.response.body.error, 'certificate_locked')
  })

  it('honours a request for the high assurance level: a subscriber with a certificate file only cannot meet it, and the institution is told', async () => {
    const holder = await subscriber()
    const requests: Record<string, string>[] = [
      { acr_values: ACR_HIGH },
      { claims: JSON.stringify({ id_token: { acr: { essential: true, value: ACR_HIGH } } }) },
    ]
    for (const extra of requests) {
      const flow = await begin(config, REDIRECT_URI, extra)
      assert.match(flow.page.text, /패스키 로그인만 허용합니다/)
      assert.match(flow.page.text, /<form id="file-login" novalidate hidden>/)
      const { response } = await prove(flow, holder)
      assert.equal(response.status, 200, response.text)
      const back = new URL(response.body.redirect)
      const callback = (await flow.browser.get(back.pathname)).headers.location!
      assert.equal(new URL(callback).searchParams.get('error'), 'unmet_authentication_requirements', 'never a lower acr than asked, unannounced')
    }
    // Either level will do: the file is accepted.
    const flow = await begin(config, REDIRECT_URI, { acr_values: `${ACR_SUBSTANTIAL} ${ACR_HIGH}` })
    assert.doesNotMatch(flow.page.text, /패스키 로그인만 허용합니다/)
    assert.equal((await prove(flow, holder)).response.status, 200)
  })

  it('releases the connecting identifier only to clients the operator allows', async () => {
    const holder = await subscriber()
    const ci = (await server.ctx.db.selectFrom('subscriber').select('ci').where('id', '=', holder.id).executeTakeFirstOrThrow()).ci
    const userinfo = async (cfg: client.Configuration, redirectUri: string) => {
      const flow = await begin(cfg, redirectUri, { scope: 'openid ci' })
      const { response } = await prove(flow, holder)
      let step = await follow(flow.browser, response.body.redirect)
      const consentPage = step.consentPage!
      const csrf = consentPage.match(/name="csrf" value="([^"]+)"/)![1]!
      const approved = await flow.browser.post(`${step.consentPath}/consent`).type('form').send({ csrf, decision: 'approve' }).expect(303)
      step = await follow(flow.browser, approved.headers.location!)
      const tokens = await client.authorizationCodeGrant(cfg, step.callback!, { pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce })
      return { consentPage, info: await client.fetchUserInfo(cfg, tokens.access_token, tokens.claims()!.sub) }
    }
    const allowed = await userinfo(ciClient, 'https://ci.example.kr/cb')
    assert.match(allowed.consentPage, /연계정보\(CI\)/)
    assert.equal(allowed.info.ci, ci)
    const other = await userinfo(otherSector, 'https://other.example.kr/cb')
    assert.doesNotMatch(other.consentPage, /연계정보\(CI\)/)
    assert.equal(other.info.ci, undefined)
  })

  it('shows a renewal notice when the certificate expires within 30 days, then goes on', async () => {
    const holder = await subscriber()
    const shift = (holder.certificate.notAfter.getTime() - clock.now().getTime()) / 1000 - 10 * 86_400
    clock.advance(shift)
    try {
      const flow = await begin()
      const { response } = await prove(flow, holder)
      assert.equal(response.status, 200, response.text)
      assert.match(response.body.redirect, new RegExp(`^/interaction/${flow.uid}/expiring\\?days=10&next=`))
      const notice = await flow.browser.get(response.body.redirect).expect(200)
      assert.match(notice.text, /인증서가 10일 후에 만료됩니다/)
      const next = notice.text.match(/<a class="button" href="([^"]+)"/)![1]!
      assert.equal(next, `/auth/${flow.uid}`)
      const step = await follow(flow.browser, next)
      assert.ok(step.callback || step.consentPage, 'on to the institution')
      await flow.browser.get(`/interaction/${flow.uid}/expiring?days=10&next=${encodeURIComponent('https://evil.example/')}`).expect(400)
    } finally {
      clock.advance(-shift)
    }
  })

  it('refuses login calls without the page\'s CSRF token', async () => {
    const flow = await begin()
    await flow.browser.post(`/interaction/${flow.uid}/challenge`).set('Content-Type', 'application/json').send('{}').expect(403)
  })

})
