import assert from 'node:assert/strict'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import request from 'supertest'
import { ACCOUNT_CLIENT_ID } from '../../src/account/portal-client.ts'
import { reminderText } from '../../src/account/expiry-reminders.ts'
import { buildConfig, DEFAULT_BRAND } from '../../src/config/config.ts'
import { ROOT_DIR } from '../../src/context.ts'
import { LOCALES, Views } from '../../src/http/views.ts'
import { PERSON_1, startEnrollment, verifyPhone } from '../enrollment/helpers.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const views = (brand = DEFAULT_BRAND) => new Views(path.join(ROOT_DIR, 'views'), brand)

describe('the service name citizens see is the operator\'s (#17, item 1)', () => {
  it('by default, no citizen-facing text says "PostCert" (the project\'s name, not the service\'s)', () => {
    const v = views()
    for (const locale of LOCALES) {
      const stray = Object.entries(v.messagesWithPrefix(locale, '')).filter(([, text]) => /PostCert/.test(text))
      assert.deepEqual(stray, [], `${locale} messages naming PostCert`)
    }
    assert.equal(v.message('ko', 'brand'), '우체국 금융인증서')
    assert.equal(v.message('en', 'brand'), 'Post Office Financial Certificate')
  })

  it('every message naming the service or its operator takes the configured names', () => {
    const v = views({ ko: { service: '새마을 금융인증서', operator: '새마을금고' }, en: { service: 'MG Financial Certificate', operator: 'MG' } })
    for (const locale of LOCALES) {
      const stray = Object.entries(v.messagesWithPrefix(locale, '')).filter(([, text]) => /우체국|Post Office|post office|Korea Post|\{\{(service|operator)\}\}/.test(text))
      assert.deepEqual(stray, [], `${locale} messages with the default names or an unfilled name`)
    }
    assert.equal(v.message('ko', 'brand'), '새마을 금융인증서')
    assert.match(v.message('ko', 'account.safety_phishing'), /^새마을금고/)
    assert.match(v.message('en', 'account.safety_phishing'), /^MG /)
  })

  it('a name that could break a page or a text is refused at start-up', () => {
    for (const bad of ['<b>우체국</b>', 'a & b', '{{service}}', '', 'x'.repeat(41), '줄\n바꿈']) {
      assert.throws(() => buildConfig({ SERVICE_NAME: bad }), /SERVICE_NAME/, JSON.stringify(bad))
    }
    assert.throws(() => buildConfig({ OPERATOR_NAME_EN: '"quoted"' }), /OPERATOR_NAME_EN/)
    assert.deepEqual(buildConfig({}).brand, DEFAULT_BRAND)
  })

  describe('a server with its own names', () => {
    let server: TestServer
    before(async () => {
      server = await startTestServer({
        hostname: 'localhost',
        env: { SERVICE_NAME: '새마을 금융인증서', OPERATOR_NAME: '새마을금고', SERVICE_NAME_EN: 'MG Financial Certificate', OPERATOR_NAME_EN: 'MG' },
      })
    })
    after(async () => { await server.close() })

    it('names itself so on its pages, in both languages', async () => {
      const home = await request(server.url).get('/').expect(200)
      assert.match(home.text, /<h1 id="title">새마을 금융인증서<\/h1>/)
      assert.match(home.text, /<a class="brand" href="\/">새마을 금융인증서<\/a>/)
      assert.match(home.text, /<title>[^<]*새마을 금융인증서/)
      assert.doesNotMatch(home.text, /우체국/)
      const en = await request(server.url).get('/?ui_locales=en').expect(200)
      assert.match(en.text, /<h1 id="title">MG Financial Certificate<\/h1>/)
      assert.doesNotMatch(en.text, /Post Office|PostCert/)
    })

    it('in the code it texts, and as the passkey\'s service on the phone', async () => {
      const { browser, csrf } = await startEnrollment(server)
      await verifyPhone(server, browser, csrf, PERSON_1.phone, '+821000000001')
      const sms = await request(server.url).get('/sandbox/sms').set('Accept', 'application/json').expect(200)
      const text = (sms.body.messages as { to: string; body: string }[]).find((m) => m.to === '+821000000001')!.body
      assert.match(text, /^\[새마을 금융인증서\] 인증번호 \d{6} /)
      assert.match(text, /Your MG Financial Certificate code is \d{6}\./)
      const { phone: _phone, ...identity } = PERSON_1
      await browser.post('/enroll/identity').type('form').send({ csrf, ...identity }).expect(303)
      const holder = await browser.get('/enroll/holder').expect(200)
      const holderCsrf = holder.text.match(/data-csrf="([^"]+)"/)![1]!
      const options = await browser.post('/enroll/holder/passkey/options').set('Content-Type', 'application/json').set('X-CSRF-Token', holderCsrf).send('{}').expect(200)
      assert.equal(options.body.registration.rp.name, '새마을 금융인증서')
    })

    it('as the portal\'s name in the activity list', async () => {
      const portal = await server.ctx.clients.show(ACCOUNT_CLIENT_ID)
      assert.equal(portal.client_name, '새마을 금융인증서 내 정보')
      assert.equal(portal['client_name#en'], 'MG Financial Certificate: my account')
    })

    it('in the expiry reminder', () => {
      const text = reminderText(new Date('2027-01-05T00:00:00Z'), new Date('2026-12-29T00:00:00Z'), 'https://id.example', server.ctx.config.brand.ko.service)
      assert.match(text, /^\[새마을 금융인증서\] 인증서가 7일 후\(2027-01-05\) 만료됩니다\./)
    })
  })
})
