import assert from 'node:assert/strict'
import { generateKeyPairSync, sign } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type request from 'supertest'
import { ManualClock } from '../../src/util/clock.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { PERSON_1, PERSON_2, startEnrollment, verifyPhone } from './helpers.ts'

/** What the browser does for the certificate file holder, with Node's crypto. */
function fileKey() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return { privateKey, spki: publicKey.export({ format: 'der', type: 'spki' }).toString('base64url') }
}

describe('enrollment: the certificate file holder step over HTTP', () => {
  let server: TestServer
  const clock = new ManualClock()
  before(async () => { server = await startTestServer({ overrides: { clock } }) })
  after(async () => { await server.close() })

  async function atHolderStep(person: typeof PERSON_1, e164: string) {
    const { browser, csrf } = await startEnrollment(server)
    clock.advance(61)
    await verifyPhone(server, browser, csrf, person.phone, e164)
    await browser.post('/enroll/identity').type('form').send({ csrf, document_type: person.document_type, name: person.name, birthdate: person.birthdate, number: person.number, issue_date: person.issue_date }).expect(303)
    const page = await browser.get('/enroll/holder').expect(200)
    const holderCsrf = page.text.match(/data-csrf="([^"]+)"/)![1]!
    return { browser, csrf: holderCsrf, page }
  }

  const api = (browser: request.Agent, csrf: string | undefined, path: string, body: unknown = {}) => {
    const req = browser.post(path).set('Content-Type', 'application/json')
    return (csrf ? req.set('X-CSRF-Token', csrf) : req).send(JSON.stringify(body))
  }

  async function issue(browser: request.Agent, csrf: string, key = fileKey()) {
    const { challenge } = (await api(browser, csrf, '/enroll/holder/challenge').expect(200)).body
    const signature = sign('sha256', Buffer.from(challenge, 'base64url'), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')
    return await api(browser, csrf, '/enroll/holder/file', { spki: key.spki, signature, challenge })
  }

  it('issues the certificate to the browser\'s key and completes the enrollment once', async () => {
    const { browser, csrf } = await atHolderStep(PERSON_1, '+821000000001')
    const res = await issue(browser, csrf)
    assert.equal(res.status, 200, res.text)
    assert.match(res.body.certificate, /^-----BEGIN CERTIFICATE-----/)
    assert.equal((res.body.chain.match(/BEGIN CERTIFICATE/g) ?? []).length, 2)
    assert.equal(res.body.next, '/enroll/done')
    assert.equal(res.body.name, '김우정')
    const record = (await server.ctx.authority.find(res.body.serial))!
    assert.equal(record.holder, 'file')
    assert.equal(record.status, 'good')

    const done = await browser.get('/enroll/done').expect(200)
    assert.ok(done.text.includes(res.body.serial))
    assert.match(done.text, /인증서 파일/)
    // Replaying the step issues nothing more.
    assert.equal((await api(browser, csrf, '/enroll/holder/challenge').expect(409)).body.error, 'step_not_allowed')
    const challenge = (await server.ctx.authority.createChallenge()).toString('base64url')
    const key = fileKey()
    const signature = sign('sha256', Buffer.from(challenge, 'base64url'), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')
    const again = await api(browser, csrf, '/enroll/holder/file', { spki: key.spki, signature, challenge }).expect(409)
    assert.equal(again.body.error, 'step_not_allowed')
    await browser.get('/enroll/holder').expect(303).expect('Location', '/enroll/done')
  })

  it('reissues when the person already holds a certificate, revoking it', async () => {
    const subscriber = await server.ctx.db.selectFrom('subscriber').select('id').where('name', '=', PERSON_1.name).executeTakeFirstOrThrow()
    const before = (await server.ctx.authority.listBySubscriber(subscriber.id)).filter((c) => c.status === 'good')
    assert.equal(before.length, 1)
    const { browser, csrf, page } = await atHolderStep(PERSON_1, '+821000000001')
    assert.match(page.text, /이미 사용 중인 인증서가 1개 있습니다/)
    const res = await issue(browser, csrf)
    assert.equal(res.status, 200, res.text)
    const old = (await server.ctx.authority.find(before[0]!.serial))!
    assert.equal(old.status, 'revoked')
    assert.equal(old.revocationReason, 'superseded')
    assert.equal(old.replacedBy, res.body.serial)
  })

  it('refuses a proof made with another key, a reused challenge, and a missing CSRF header', async () => {
    const { browser, csrf } = await atHolderStep(PERSON_2, '+821000000002')
    const key = fileKey()
    const { challenge } = (await api(browser, csrf, '/enroll/holder/challenge').expect(200)).body
    const other = fileKey()
    const forged = sign('sha256', Buffer.from(challenge, 'base64url'), { key: other.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')
    const refused = await api(browser, csrf, '/enroll/holder/file', { spki: key.spki, signature: forged, challenge }).expect(400)
    assert.equal(refused.body.error, 'invalid_possession_proof')
    const noCsrf = await api(browser, undefined, '/enroll/holder/challenge').expect(403)
    assert.equal(noCsrf.body.error, 'invalid_csrf_token')
    const garbage = await api(browser, csrf, '/enroll/holder/file', { spki: '!!', signature: 'x', challenge: 'y' }).expect(400)
    assert.equal(garbage.body.error, 'invalid_request')
    const notJson = await browser.post('/enroll/holder/file').set('X-CSRF-Token', csrf).type('form').send({ a: 1 }).expect(400)
    assert.equal(notJson.body.error, 'invalid_request')
    // Still at the holder step: the subscriber can try again.
    assert.equal((await issue(browser, csrf, key)).status, 200)
  })

  it('refuses the holder step before identity is verified', async () => {
    const { browser } = await startEnrollment(server)
    const page = await browser.get('/enroll/phone').expect(200)
    const csrf = page.text.match(/name="csrf" value="([^"]+)"/)![1]!
    const res = await api(browser, csrf, '/enroll/holder/challenge').expect(409)
    assert.equal(res.body.error, 'step_not_allowed')
  })
})

describe('enrollments completed at once in several browsers', () => {
  let server: TestServer
  const clock = new ManualClock()
  before(async () => { server = await startTestServer({ overrides: { clock } }) })
  after(async () => { await server.close() })

  it('leave one certificate in use, not one each', async () => {
    const browsers = []
    for (let i = 0; i < 4; i++) {
      const { browser, csrf } = await startEnrollment(server)
      clock.advance(61)
      await verifyPhone(server, browser, csrf, PERSON_1.phone, '+821000000001')
      await browser.post('/enroll/identity').type('form').send({ csrf, document_type: PERSON_1.document_type, name: PERSON_1.name, birthdate: PERSON_1.birthdate, number: PERSON_1.number, issue_date: PERSON_1.issue_date }).expect(303)
      const page = await browser.get('/enroll/holder').expect(200)
      browsers.push({ browser, csrf: page.text.match(/data-csrf="([^"]+)"/)![1]! })
    }
    const issued = await Promise.all(browsers.map(async ({ browser, csrf }) => {
      const api = (path: string, body: unknown = {}) => browser.post(path).set('Content-Type', 'application/json').set('X-CSRF-Token', csrf).send(JSON.stringify(body))
      const key = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      const { challenge } = (await api('/enroll/holder/challenge').expect(200)).body
      const signature = sign('sha256', Buffer.from(challenge, 'base64url'), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')
      return await api('/enroll/holder/file', { spki: key.publicKey.export({ format: 'der', type: 'spki' }).toString('base64url'), signature, challenge })
    }))
    assert.deepEqual(issued.map((r) => r.status), [200, 200, 200, 200], 'each browser got its certificate')
    const subscriber = await server.ctx.db.selectFrom('subscriber').select('id').where('phone_e164', '=', '+821000000001').executeTakeFirstOrThrow()
    const inUse = await server.ctx.db.selectFrom('certificate').select('serial').where('subscriber_id', '=', subscriber.id).where('status', '=', 'good').execute()
    assert.equal(inUse.length, 1, 'the last one issued; the others superseded')
  })
})
