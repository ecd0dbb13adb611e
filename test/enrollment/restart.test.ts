import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ManualClock } from '../../src/util/clock.ts'
import { loginSuite } from '../helpers/suite.ts'
import { csrfOf, PERSON_1, startEnrollment, verifyPhone } from './helpers.ts'

describe('starting again from any enrollment step (#17, item 2)', () => {
  const clock = new ManualClock()
  const { server } = loginSuite(clock)

  it('the identity step, which a phone in another name cannot leave for 15 minutes, has a way out: 처음부터 다시', async () => {
    const { browser, csrf } = await startEnrollment(server)
    await verifyPhone(server, browser, csrf, PERSON_1.phone, '+821000000001')
    const page = await browser.get('/enroll/identity').expect(200)
    assert.match(page.text, /<form method="post" action="\/enroll\/restart"[^>]*>[\s\S]*?처음부터 다시/)
    await browser.get('/enroll').expect(303).expect('Location', '/enroll/identity')
    // Without the page's token nothing happens.
    await browser.post('/enroll/restart').type('form').send({ csrf: 'forged' }).expect(403)
    await browser.get('/enroll').expect(303).expect('Location', '/enroll/identity')
    const restarted = await browser.post('/enroll/restart').type('form').send({ csrf: csrfOf(page.text) }).expect(303)
    assert.equal(restarted.headers.location, '/enroll')
    const start = await browser.get('/enroll').expect(200)
    assert.match(start.text, /action="\/enroll\/start"/, 'a new start, not the old step')
    const row = await server.ctx.db.selectFrom('enrollment').select(['expires_at']).where('phone_e164', '=', '+821000000001').orderBy('created_at', 'desc').executeTakeFirstOrThrow()
    assert.ok(row.expires_at.getTime() <= clock.now().getTime(), 'the old enrollment ended')
  })

  it('the phone step has it too', async () => {
    const { browser } = await startEnrollment(server)
    const page = await browser.get('/enroll/phone').expect(200)
    assert.match(page.text, /action="\/enroll\/restart"/)
  })
})
