import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { ManualClock } from '../../src/util/clock.ts'
import { signInToPortal } from '../account/helpers.ts'
import { BACKENDS } from '../helpers/db.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { LoginHarness } from '../login/harness.ts'
import { lastCode, PERSON_2, startEnrollment } from './helpers.ts'

const wrong = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0')

for (const backend of BACKENDS) {
  describe(`phone codes under parallel guesses: each try is counted before it is compared (${backend})`, () => {
    let server: TestServer
    const clock = new ManualClock()
    before(async () => { server = await startTestServer({ backend, overrides: { clock } }) })
    after(async () => { await server.close() })

    it('the portal\'s step-up: a burst of guesses after four wrong ones compares one more, never more', async () => {
      const h = new LoginHarness(server, clock)
      const holder = await h.subscriber()
      clock.advance(340 * 86_400)
      try {
        const { browser, csrf } = await signInToPortal(h, server, holder)
        const base = `/account/certificates/${holder.certificate.serial}/renew`
        await browser.post(`${base}/code`).type('form').send({ csrf }).expect(303)
        const code = await lastCode(server, '+821000000001')
        const guess = (value: string) => browser.post(`${base}/verify`).type('form').set('Accept', 'application/json').send({ csrf, code: value })
        for (let i = 0; i < 4; i++) assert.equal((await guess(wrong(code))).body.error, 'code_wrong')
        const burst = await Promise.all([...Array.from({ length: 19 }, () => guess(wrong(code))), guess(code)])
        const session = await server.ctx.db.selectFrom('account_session').innerJoin('phone_code', (j) => j.onRef('phone_code.owner', '=', 'account_session.id').on('phone_code.purpose', '=', 'portal'))
          .select(['phone_code.attempts', 'account_session.phone_verified_at']).where('account_session.subscriber_id', '=', holder.id).orderBy('account_session.created_at', 'desc').executeTakeFirstOrThrow()
        assert.equal(session.attempts, 5, 'five tries counted, not 4 + 20')
        const accepted = burst.filter((r) => r.status < 400).length
        assert.equal(accepted, session.phone_verified_at ? 1 : 0)
        assert.ok(burst.filter((r) => r.body?.error === 'code_exhausted').length >= 19, 'the rest refused without a comparison')
        if (!session.phone_verified_at) assert.equal((await guess(code)).body.error, 'code_exhausted', 'the right code after five tries: refused')
      } finally {
        clock.advance(-340 * 86_400)
      }
    })

    it('enrollment: the same, with the same mechanism', async () => {
      clock.advance(3600)
      const { browser, csrf } = await startEnrollment(server)
      await browser.post('/enroll/phone/send').type('form').send({ csrf, phone: PERSON_2.phone }).expect(303)
      const code = await lastCode(server, '+821000000002')
      // The page answers with the form again and the refusal beside the field.
      const guess = (value: string) => browser.post('/enroll/phone/verify').type('form').send({ csrf, code: value })
      for (let i = 0; i < 4; i++) assert.match((await guess(wrong(code))).text, /인증번호가 맞지 않습니다/)
      await Promise.all([...Array.from({ length: 19 }, () => guess(wrong(code))), guess(code)])
      const enrollment = await server.ctx.db.selectFrom('enrollment').innerJoin('phone_code', (j) => j.onRef('phone_code.owner', '=', 'enrollment.id').on('phone_code.purpose', '=', 'enroll'))
        .select(['phone_code.attempts', 'enrollment.step']).where('enrollment.phone_e164', '=', '+821000000002').orderBy('enrollment.created_at', 'desc').executeTakeFirstOrThrow()
      assert.equal(enrollment.attempts, 5)
    })
  })
}
