import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import request from 'supertest'
import { x509 } from '../../src/ca/x509.ts'
import { issueCertificate } from '../helpers/pki.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { PERSON_1, startEnrollment, verifyPhone } from '../enrollment/helpers.ts'

describe('a lost certificate reported without it: phone code and identity document again', () => {
  let server: TestServer
  before(async () => { server = await startTestServer() })
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
    await browser.post(`/enroll/certificates/${certificate.serial}/suspend`).type('form').send({ csrf }).expect(303)
    assert.equal((await server.ctx.authority.find(certificate.serial))!.status, 'hold')
    await browser.post(`/enroll/certificates/${certificate.serial}/resume`).type('form').send({ csrf }).expect(303)
    assert.equal((await server.ctx.authority.find(certificate.serial))!.status, 'good')
    await browser.post(`/enroll/certificates/${other.certificate.serial}/revoke`).type('form').send({ csrf, reason: 'keyCompromise', confirm: 'yes' }).expect(404)
    await browser.post(`/enroll/certificates/${certificate.serial}/suspend`).type('form').send({ csrf: 'forged' }).expect(403)
    // Before the identity step, nothing can be changed.
    const fresh = await startEnrollment(server)
    await fresh.browser.post(`/enroll/certificates/${certificate.serial}/suspend`).type('form').send({ csrf: fresh.csrf }).expect(409)
    assert.equal((await server.ctx.authority.find(other.certificate.serial))!.status, 'good')
  })
})
