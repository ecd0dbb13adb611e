import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ManualClock } from '../../src/util/clock.ts'
import { signInToPortal } from '../account/helpers.ts'
import { loginSuite } from '../helpers/suite.ts'
import { lastCode, PERSON_1, startEnrollment, verifyPhone } from './helpers.ts'

const E164_1 = '+821000000001'
const DAY = 86_400

describe('the phone step, where a code meets the step it serves', () => {
  const clock = new ManualClock()
  const { server, h } = loginSuite(clock)
  const identity = { document_type: PERSON_1.document_type, name: PERSON_1.name, birthdate: PERSON_1.birthdate, number: PERSON_1.number }

  it('a resend too soon spends none of the address\'s budget: twenty-five impatient clicks, then a code a minute later', async () => {
    clock.advance(DAY)
    const { browser, csrf } = await startEnrollment(server)
    await browser.post('/enroll/phone/send').type('form').send({ csrf, phone: PERSON_1.phone }).expect(303)
    for (let i = 0; i < 25; i++) {
      const again = await browser.post('/enroll/phone/send').type('form').send({ csrf, phone: PERSON_1.phone })
      assert.equal(again.status, 429)
      assert.match(again.text, /초 후에 다시 받을 수 있습니다|seconds/)
    }
    clock.advance(61)
    await browser.post('/enroll/phone/send').type('form').send({ csrf, phone: PERSON_1.phone }).expect(303)
  })

  it('a code texted while the enrollment was past the phone step does not survive its return there', async () => {
    clock.advance(DAY)
    const { browser, csrf } = await startEnrollment(server)
    await verifyPhone(server, browser, csrf, PERSON_1.phone, E164_1)
    const enrollment = await server.ctx.db.selectFrom('enrollment').select('id').where('phone_e164', '=', E164_1).where('step', '=', 'identity')
      .orderBy('created_at', 'desc').executeTakeFirstOrThrow()
    // A send that raced the verification: a code arrives while the enrollment is at the identity step.
    clock.advance(61)
    await server.ctx.phoneCodes.send('enroll', enrollment.id, E164_1)
    const raced = await lastCode(server, E164_1)
    for (const day of ['2015-03-01', '2015-03-03', '2015-03-04']) {
      await browser.post('/enroll/identity').type('form').send({ csrf, ...identity, issue_date: day }).expect(400)
    }
    await browser.get('/enroll/identity').expect(303).expect('Location', '/enroll/phone')
    const refused = await browser.post('/enroll/phone/verify').type('form').send({ csrf, code: raced }).expect(400)
    assert.match(refused.text, /먼저 인증번호를 받아 주세요/, 'back at the phone step, only a new code counts')
    await browser.get('/enroll/identity').expect(303).expect('Location', '/enroll/phone')
  })

  it('the portal: a new code takes back the phone verified before it', async () => {
    const holder = await h.subscriber()
    clock.advance(340 * DAY)
    try {
      const { browser, csrf } = await signInToPortal(h, server, holder)
      const base = `/account/certificates/${holder.certificate.serial}/renew`
      const challenge = () => browser.post(`${base}/challenge`).set('X-CSRF-Token', csrf).set('Content-Type', 'application/json').send('{}')
      await browser.post(`${base}/code`).type('form').send({ csrf }).expect(303)
      await browser.post(`${base}/verify`).type('form').send({ csrf, code: await lastCode(server, E164_1) }).expect(303)
      assert.equal((await challenge()).status, 200, 'the phone is verified')
      clock.advance(61)
      await browser.post(`${base}/code`).type('form').send({ csrf }).expect(303)
      const after = await challenge()
      assert.equal(after.status, 403)
      assert.equal(after.body.error, 'phone_not_verified')
    } finally {
      clock.advance(-340 * DAY)
    }
  })
})
