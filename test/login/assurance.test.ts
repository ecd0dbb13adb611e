import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as client from 'openid-client'
import type request from 'supertest'
import { POLICY_OIDS } from '../../src/ca/constants.ts'
import { x509 } from '../../src/ca/x509.ts'
import { ACR_HIGH, ACR_SUBSTANTIAL } from '../../src/possession/assurance.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { PERSON_1, PERSON_2, startEnrollment, verifyPhone } from '../enrollment/helpers.ts'
import { issueCertificate, openssl } from '../helpers/pki.ts'
import { signatureDetail } from '../signing/harness.ts'
import { attestationCertificate, SoftwarePasskey, testCa } from '../helpers/software-passkey.ts'
import { startTestServer, tempDir, type TestServer } from '../helpers/server.ts'
import { LoginHarness } from './harness.ts'
import { maskName } from '../../src/subscribers/subscriber-store.ts'

describe('assurance is what was proved: attested passkeys give high, other holders substantial', () => {
  let server: TestServer
  let h: LoginHarness
  const clock = new ManualClock()
  let rp: Awaited<ReturnType<LoginHarness['relyingParty']>>
  let attested: Awaited<ReturnType<typeof enrollWithPasskey>>
  let unattested: Awaited<ReturnType<typeof enrollWithPasskey>>

  before(async () => {
    // The authenticator maker's attestation root, made here, and trusted by the operator's setting.
    const maker = await testCa('Test Authenticator Maker')
    const roots = path.join(tempDir(), 'attestation-roots.pem')
    fs.writeFileSync(roots, maker.pem)
    server = await startTestServer({ hostname: 'localhost', overrides: { clock }, env: { PASSKEY_ATTESTATION_ROOTS: roots } })
    h = new LoginHarness(server, clock)
    rp = await h.relyingParty({ name: '등급은행', redirectUri: 'https://level.example.kr/cb' })
    const aaguid = Buffer.alloc(16, 7)
    const batch = await attestationCertificate(maker, aaguid)
    attested = await enrollWithPasskey(PERSON_1, '+821000000001', new SoftwarePasskey(server.issuer, { kind: 'full', chain: [batch.der], key: batch.key }, aaguid))
    unattested = await enrollWithPasskey(PERSON_2, '+821000000002', new SoftwarePasskey(server.issuer, { kind: 'self' }))
  })
  after(async () => { await server.close() })

  /** The enrollment's pages over HTTP, with the software authenticator answering as a device would. */
  async function enrollWithPasskey(person: typeof PERSON_1, e164: string, passkey: SoftwarePasskey) {
    const { browser, csrf } = await startEnrollment(server)
    await verifyPhone(server, browser, csrf, person.phone, e164)
    const { phone: _phone, ...identity } = person
    await browser.post('/enroll/identity').type('form').send({ csrf, ...identity }).expect(303)
    const holderCsrf = (await browser.get('/enroll/holder').expect(200)).text.match(/data-csrf="([^"]+)"/)![1]!
    const api = (p: string, body: unknown = {}) => browser.post(p).set('Content-Type', 'application/json').set('X-CSRF-Token', holderCsrf).send(JSON.stringify(body))
    const { registration, challenge } = (await api('/enroll/holder/passkey/options').expect(200)).body
    assert.equal(registration.attestation, 'direct', 'the device is asked for its attestation')
    // What the phone's passkey list shows (#17): the service, and the person by masked name and phone, not an internal id.
    assert.equal(registration.rp.name, '우체국 금융인증서')
    assert.equal(registration.user.name, `${maskName(person.name)} · 010-****-${e164.slice(-4)}`)
    assert.equal(registration.user.displayName, person.name)
    const issued = await api('/enroll/holder/passkey', { registration: passkey.register(registration), assertion: passkey.assert(challenge), challenge })
    assert.equal(issued.status, 200, issued.text)
    return { passkey, serial: issued.body.serial as string, done: (await browser.get('/enroll/done').expect(200)).text }
  }

  /** A login with the software passkey on PostCert's login page; the callback or the refusal. */
  async function passkeyLogin(passkey: SoftwarePasskey, extra: Record<string, string> = {}) {
    const flow = await h.begin(rp, extra)
    const { challenge } = (await h.api(flow.browser, flow.csrf, `/interaction/${flow.uid}/challenge`).expect(200)).body
    const response = await h.api(flow.browser, flow.csrf, `/interaction/${flow.uid}/login/passkey`, { assertion: passkey.assert(challenge) })
    return { flow, response }
  }

  async function tokensOf(passkey: SoftwarePasskey, extra: Record<string, string> = {}) {
    const { flow, response } = await passkeyLogin(passkey, extra)
    assert.equal(response.status, 200, response.text)
    const callback = await h.consentIfAsked(flow.browser, await h.follow(flow.browser, response.body.redirect))
    return await client.authorizationCodeGrant(rp.config, callback, { pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce })
  }

  /** The certificate's policies as openssl reads them (it prints the UUID arc in decimal). */
  const policyOf = async (serial: string) => {
    const file = path.join(tempDir(), 'cert.pem')
    fs.writeFileSync(file, new x509.X509Certificate((await server.ctx.authority.find(serial))!.der).toString('pem'))
    return [...(await openssl(['x509', '-in', file, '-noout', '-text'])).output.matchAll(/Policy: (\S+)/g)].map((m) => m[1])
  }

  it('a passkey whose attestation chains to a trusted root is hardware-bound: loa:high, amr hwk, the hardware policy', async () => {
    const row = await server.ctx.db.selectFrom('webauthn_credential').selectAll().where('certificate_serial', '=', attested.serial).executeTakeFirstOrThrow()
    assert.deepEqual([row.attestation_format, row.aaguid, row.attested], ['packed', attested.passkey.aaguidText, true])
    assert.deepEqual(await policyOf(attested.serial), [POLICY_OIDS.passkey])
    const claims = (await tokensOf(attested.passkey, { acr_values: ACR_HIGH })).claims()!
    assert.equal(claims.acr, ACR_HIGH)
    assert.deepEqual(claims.amr, ['hwk', 'user', 'mfa'])
  })

  it('a self-attested passkey is substantial (amr swk, user), and cannot log in where high is asked: the institution is told', async () => {
    const row = await server.ctx.db.selectFrom('webauthn_credential').selectAll().where('certificate_serial', '=', unattested.serial).executeTakeFirstOrThrow()
    assert.deepEqual([row.attestation_format, row.attested], ['packed', false])
    assert.deepEqual(await policyOf(unattested.serial), [POLICY_OIDS.passkeyUnattested])
    const claims = (await tokensOf(unattested.passkey)).claims()!
    assert.equal(claims.acr, ACR_SUBSTANTIAL)
    assert.deepEqual(claims.amr, ['swk', 'user'])
    // No holder of this subscriber gives high: not a lower acr, but the error OpenID Connect names.
    const { flow, response } = await passkeyLogin(unattested.passkey, { acr_values: ACR_HIGH })
    assert.equal(response.status, 200, response.text)
    const back = await h.follow(flow.browser, response.body.redirect)
    assert.equal(back.callback?.searchParams.get('error'), 'unmet_authentication_requirements')
  })

  it('with another holder that gives high, a lower proof is refused on the page (acr_not_met) so the subscriber can use it', async () => {
    const subscriber = (await server.ctx.authority.find(attested.serial))!.subscriberId
    const { certificate, key } = await issueCertificate(server.ctx.authority, { subscriberId: subscriber })
    const flow = await h.begin(rp, { acr_values: ACR_HIGH })
    const { response } = await h.prove(flow, { id: subscriber, certificate, key })
    assert.equal(response.status, 403)
    assert.equal(response.body.error, 'acr_not_met')
  })

  it('"I have no such passkey" on a passkey-only login page, and an essential acr PostCert does not know: unmet_authentication_requirements', async () => {
    const flow = await h.begin(rp, { acr_values: ACR_HIGH })
    const csrf = flow.page.text.match(/<form method="post" action="\/interaction\/[^"]+\/unmet"[^>]*>\s*<input type="hidden" name="csrf" value="([^"]+)"/)![1]!
    const unmet = await (flow.browser as request.Agent).post(`/interaction/${flow.uid}/unmet`).type('form').send({ csrf }).expect(303)
    const back = await h.follow(flow.browser, unmet.headers.location!)
    assert.equal(back.callback?.searchParams.get('error'), 'unmet_authentication_requirements')

    const unknown = await h.authorize(rp, { claims: JSON.stringify({ id_token: { acr: { essential: true, value: 'urn:example:loa:4' } } }) })
    const page = await unknown.browser.get(unknown.location)
    assert.equal(page.status, 303, 'no login page: nothing could meet it')
    const told = await h.follow(unknown.browser, page.headers.location!)
    assert.equal(told.callback?.searchParams.get('error'), 'unmet_authentication_requirements')
  })

  it('signs at the high level only with the attested passkey: a certificate file is refused on the signing page', async () => {
    const { flow, response } = await passkeyLogin(attested.passkey, { acr_values: ACR_HIGH, authorization_details: JSON.stringify([signatureDetail()]) })
    assert.equal(response.status, 200, response.text)
    const page = await h.follow(flow.browser, response.body.redirect)
    assert.match(page.page!, /id="passkey-only"/, 'the signing page says which holder will do')
    const csrf = page.page!.match(/data-csrf="([^"]+)"/)![1]!
    const file = await h.api(flow.browser, csrf, `${page.path}/sign/file`, { jws: 'x.y.z', cms: 'AA==' })
    assert.equal(file.status, 403)
    assert.equal(file.body.error, 'acr_not_met')
  })

  it('shows the subscriber the level each holder gives', async () => {
    assert.match(attested.done, /<dt>보안 등급<\/dt><dd id="level">높음/)
    assert.match(unattested.done, /<dt>보안 등급<\/dt><dd id="level">보통/)
    // Advice for the holder chosen (#17, item 3): a passkey has no certificate password to keep; and where to go next.
    for (const done of [attested.done, unattested.done]) {
      assert.doesNotMatch(done, /인증서 비밀번호는/)
      assert.match(done, /휴대폰의 화면 잠금/)
      assert.match(done, /<a class="button" href="\/account">내 인증서 관리<\/a>/)
    }
  })
})
