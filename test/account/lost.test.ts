import assert from 'node:assert/strict'
import { generateKeyPairSync, sign } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import * as client from 'openid-client'
import request from 'supertest'
import { ManualClock } from '../../src/util/clock.ts'
import { LoginHarness } from '../login/harness.ts'
import { x509 } from '../../src/ca/x509.ts'
import { issueCertificate } from '../helpers/pki.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { PERSON_1, startEnrollment, verifyPhone } from '../enrollment/helpers.ts'

describe('a lost certificate reported without it: phone code and identity document again', () => {
  let server: TestServer
  const clock = new ManualClock()
  before(async () => { server = await startTestServer({ overrides: { clock } }) })
  after(async () => { await server.close() })

  /** Proves phone and identity again, as the enrollment does; returns the holder page and the subscriber. */
  async function proveAgain() {
    const { browser, csrf } = await startEnrollment(server)
    await verifyPhone(server, browser, csrf, PERSON_1.phone, '+821000000001')
    const { phone: _phone, ...identity } = PERSON_1
    await browser.post('/enroll/identity').type('form').send({ csrf, ...identity }).expect(303)
    const page = await browser.get('/enroll/holder').expect(200)
    const subscriber = await server.ctx.db.selectFrom('subscriber').select('id').where('phone_e164', '=', '+821000000001').executeTakeFirstOrThrow()
    return { browser, csrf: page.text.match(/data-csrf="([^"]+)"/)![1]!, page: page.text, subscriberId: subscriber.id }
  }

  it('lists the certificates in use after proving identity again, and revokes one as lost; CRL and OCSP show it at once', async () => {
    const first = await proveAgain()
    const { certificate } = await issueCertificate(server.ctx.authority, { subscriberId: first.subscriberId })
    const { browser, csrf, page } = await proveAgain()
    assert.match(page, new RegExp(`<li data-serial="${certificate.serial}">`), 'the certificate in use is listed')
    const revoke = `/enroll/certificates/${certificate.serial}/revoke`
    await browser.post(revoke).type('form').send({ csrf, reason: 'keyCompromise' }).expect(400)
    const done = await browser.post(revoke).type('form').send({ csrf, reason: 'keyCompromise', confirm: 'yes' }).expect(303)
    assert.match(done.headers.location!, /^\/enroll\/holder\?changed=/)
    const after = await browser.get(done.headers.location!).expect(200)
    assert.match(after.text, /인증서 상태를 바꿨습니다: [0-9a-f]{8}… 폐기/)
    assert.doesNotMatch(after.text, new RegExp(`<li data-serial="${certificate.serial}">`), 'no longer in use')
    const status = await request(server.url).get(`/pki/certificates/${certificate.serial}`).set('Accept', 'application/json').expect(200)
    assert.equal(status.body.status, 'revoked')
    assert.equal(status.body.revocation_reason, 'keyCompromise')
    const crl = new x509.X509Crl(Buffer.from(await (await fetch(`${server.url}/pki/crl`)).arrayBuffer()))
    const entry = crl.entries.find((e) => BigInt(`0x${e.serialNumber}`) === BigInt(`0x${certificate.serial}`))
    assert.ok(entry, 'on the CRL at once')
    assert.equal(entry.reason, x509.X509CrlReason.keyCompromise)
  })

  it('suspends and resumes there; refuses another person\'s certificate and forms without the token', async () => {
    const { subscriberId } = await proveAgain()
    const { certificate } = await issueCertificate(server.ctx.authority, { subscriberId })
    const other = await issueCertificate(server.ctx.authority, { subscriberId: 'ps_someone_else' })
    const { browser, csrf } = await proveAgain()
    await browser.post(`/enroll/certificates/${certificate.serial}/suspend`).type('form').send({ csrf, confirm: 'yes' }).expect(303)
    assert.equal((await server.ctx.authority.find(certificate.serial))!.status, 'hold')
    await browser.post(`/enroll/certificates/${certificate.serial}/resume`).type('form').send({ csrf }).expect(303)
    assert.equal((await server.ctx.authority.find(certificate.serial))!.status, 'good')
    await browser.post(`/enroll/certificates/${other.certificate.serial}/revoke`).type('form').send({ csrf, reason: 'keyCompromise', confirm: 'yes' }).expect(404)
    await browser.post(`/enroll/certificates/${certificate.serial}/suspend`).type('form').send({ csrf: 'forged' }).expect(403)
    // Before the identity step, nothing can be changed.
    const fresh = await startEnrollment(server)
    await fresh.browser.post(`/enroll/certificates/${certificate.serial}/suspend`).type('form').send({ csrf: fresh.csrf, confirm: 'yes' }).expect(409)
    assert.equal((await server.ctx.authority.find(other.certificate.serial))!.status, 'good')
  })

  it('a new enrollment revokes every certificate in use, a suspended one too, and ends what it opened', async () => {
    clock.advance(86_400) // past the hourly text and daily identity-check limits of the tests before
    const { subscriberId } = await proveAgain()
    const { certificate, key } = await issueCertificate(server.ctx.authority, { subscriberId })
    const h = new LoginHarness(server, clock)
    const bank = await h.relyingParty({ name: '재발급은행', redirectUri: 'https://reissue.example.kr/cb', scope: 'openid offline_access' })
    const { tokens } = await h.login(bank, { id: subscriberId, certificate, key }, { scope: 'openid offline_access', prompt: 'consent' })
    const { browser, csrf } = await proveAgain()
    await browser.post(`/enroll/certificates/${certificate.serial}/suspend`).type('form').send({ csrf, confirm: 'yes' }).expect(303)
    // The device is found again... and the subscriber gets a new certificate anyway.
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const api = (path: string, body: unknown = {}) => browser.post(path).set('Content-Type', 'application/json').set('X-CSRF-Token', csrf).send(JSON.stringify(body))
    const { challenge } = (await api('/enroll/holder/challenge').expect(200)).body
    const signature = sign('sha256', Buffer.from(challenge, 'base64url'), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')
    const issued = await api('/enroll/holder/file', { spki: publicKey.export({ format: 'der', type: 'spki' }).toString('base64url'), signature, challenge }).expect(200)
    const old = (await server.ctx.authority.find(certificate.serial))!
    assert.deepEqual([old.status, old.revocationReason, old.replacedBy], ['revoked', 'superseded', issued.body.serial])
    await assert.rejects(client.refreshTokenGrant(bank.config, tokens.refresh_token!), (err: client.ResponseBodyError) => err.error === 'invalid_grant')
  })
})
