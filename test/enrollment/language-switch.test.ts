import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ManualClock } from '../../src/util/clock.ts'
import { loginSuite } from '../helpers/suite.ts'
import { PERSON_1, startEnrollment, verifyPhone } from './helpers.ts'

const switchOf = (html: string) => /<p class="lang"><a href="([^"]+)"/.exec(html)![1]!.replace(/&#x3D;/g, '=').replace(/&amp;/g, '&')

describe('the language switch after a form error (#17)', () => {
  const { server } = loginSuite(new ManualClock())

  it('on the phone step leads to the same step in the other language, never to a replayed POST', async () => {
    const { browser, csrf } = await startEnrollment(server)
    const refused = await browser.post('/enroll/phone/send').type('form').send({ csrf, phone: '02-123-4567' }).expect(400)
    const target = switchOf(refused.text)
    assert.equal(target, '/enroll/phone?ui_locales=en')
    const english = await browser.get(target).expect(200)
    assert.match(english.text, /<html lang="en"/)
  })

  it('on the identity step too', async () => {
    const { browser, csrf } = await startEnrollment(server)
    await verifyPhone(server, browser, csrf, PERSON_1.phone, '+821000000001')
    const refused = await browser.post('/enroll/identity').type('form').send({ csrf, document_type: 'passport', name: '', birthdate: '', number: '', issue_date: '' }).expect(400)
    assert.equal(switchOf(refused.text), '/enroll/identity?ui_locales=en')
    await browser.get(switchOf(refused.text)).expect(200)
  })
})
