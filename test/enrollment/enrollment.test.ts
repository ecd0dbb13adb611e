import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import request from 'supertest'
import { ManualClock } from '../../src/util/clock.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { csrfOf, lastCode, PERSON_1, PERSON_2, startEnrollment, verifyPhone } from './helpers.ts'

const E164_1 = '+821000000001'
const E164_2 = '+821000000002'

describe('enrollment: phone and identity steps', () => {
  let server: TestServer
  const clock = new ManualClock()
  before(async () => { server = await startTestServer({ overrides: { clock } }) })
  after(async () => { await server.close() })

  const identity = (p: typeof PERSON_1) => ({ document_type: p.document_type, name: p.name, birthdate: p.birthdate, number: p.number, issue_date: p.issue_date })

  it('walks a subscriber through phone and identity, with a safe cookie', async () => {
    const { browser, csrf, started } = await startEnrollment(server)
    const cookie = (started.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('postcert_enroll='))!
    assert.match(cookie, /path=\/enroll/)
    assert.match(cookie, /httponly/)
    assert.match(cookie, /samesite=lax/)

    const sent = await browser.post('/enroll/phone/send').type('form').send({ csrf, phone: '010-0000-0001' }).expect(303)
    assert.equal(sent.headers.location, '/enroll/phone')
    const page = await browser.get('/enroll/phone').expect(200)
    assert.match(page.text, /010-0000-0001\(으\)로 인증번호를 보냈습니다/)
    const code = await lastCode(server, E164_1)
    const verified = await browser.post('/enroll/phone/verify').type('form').send({ csrf, code }).expect(303)
    assert.equal(verified.headers.location, '/enroll/identity')

    const form = await browser.get('/enroll/identity').expect(200)
    assert.match(form.text, /신분증 확인/)
    const done = await browser.post('/enroll/identity').type('form').send({ csrf, ...identity(PERSON_1) }).expect(303)
    assert.equal(done.headers.location, '/enroll/holder')
    const holder = await browser.get('/enroll/holder').expect(200)
    assert.match(holder.text, /김우정님, 휴대폰과 신분증 확인을 마쳤습니다/)
  })

  it('finds the same subscriber when the same person comes back, and stores no document number', async () => {
    const subscribers = async () => server.ctx.db.selectFrom('subscriber').selectAll().where('name', '=', PERSON_1.name).execute()
    const before = await subscribers()
    const { browser, csrf } = await startEnrollment(server)
    clock.advance(61)
    await verifyPhone(server, browser, csrf, PERSON_1.phone, E164_1)
    // another document of the same person
    await browser.post('/enroll/identity').type('form').send({ csrf, document_type: 'passport', name: PERSON_1.name, birthdate: PERSON_1.birthdate, number: 'M00000001', issue_date: '2021-05-10' }).expect(303)
    const after = await subscribers()
    assert.equal(after.length, 1)
    assert.deepEqual(after.map((s) => s.id), before.map((s) => s.id))
    // The connecting identifier is an HMAC of the registry's key of the person under the ci-key
    // secret's bytes; it must never change, whatever way the key is held (#19 imports it once).
    const [ciKey] = await server.ctx.secrets.randomKeys('ci-key')
    assert.equal(after[0]!.ci, createHmac('sha256', Buffer.from(ciKey!, 'base64url')).update('sandbox-person-1').digest('base64url'))
    assert.equal(after[0]!.document_type, 'passport')
    assert.equal(after[0]!.document_last_digits, '0001')
    const dump = JSON.stringify(await server.ctx.db.selectFrom('subscriber').selectAll().execute()) + JSON.stringify(await server.ctx.db.selectFrom('audit_event').selectAll().execute())
    assert.ok(!dump.includes('9001151000001') && !dump.includes('M00000001'), 'no raw document number at rest')
  })

  it('counts wrong codes and kills the code at the fifth', async () => {
    const { browser, csrf } = await startEnrollment(server)
    clock.advance(61)
    await browser.post('/enroll/phone/send').type('form').send({ csrf, phone: PERSON_2.phone }).expect(303)
    const code = await lastCode(server, E164_2)
    const wrong = code === '000000' ? '111111' : '000000'
    for (let left = 4; left >= 1; left--) {
      const res = await browser.post('/enroll/phone/verify').type('form').send({ csrf, code: wrong }).expect(400)
      assert.match(res.text, new RegExp(`인증번호가 맞지 않습니다. ${left}번 더 입력할 수 있습니다`))
      // Under the code field it is about, not above the phone field (#17).
      assert.match(res.text, /<input id="code"[^>]*aria-describedby="code-timer form-error"[^>]*aria-invalid="true"[^>]*>\s*<p class="error" role="alert" id="form-error">인증번호가 맞지 않습니다/)
      assert.ok(res.text.indexOf('id="form-error"') > res.text.indexOf('id="phone"'), 'below the phone field')
    }
    const fifth = await browser.post('/enroll/phone/verify').type('form').send({ csrf, code: wrong }).expect(400)
    assert.match(fifth.text, /5번 잘못 입력했습니다/)
    const late = await browser.post('/enroll/phone/verify').type('form').send({ csrf, code }).expect(400)
    assert.match(late.text, /5번 잘못 입력했습니다/, 'even the right code is refused now')
  })

  it('refuses an expired code', async () => {
    const { browser, csrf } = await startEnrollment(server)
    clock.advance(61)
    await browser.post('/enroll/phone/send').type('form').send({ csrf, phone: PERSON_1.phone }).expect(303)
    const code = await lastCode(server, E164_1)
    clock.advance(181)
    const res = await browser.post('/enroll/phone/verify').type('form').send({ csrf, code }).expect(400)
    assert.match(res.text, /유효시간\(3분\)이 지났습니다/)
  })

  it('refuses a resend within a minute, in the page\'s language', async () => {
    const { browser, csrf } = await startEnrollment(server)
    clock.advance(61)
    await browser.post('/enroll/phone/send').type('form').send({ csrf, phone: PERSON_1.phone }).expect(303)
    clock.advance(20)
    const res = await browser.post('/enroll/phone/send?ui_locales=en').type('form').send({ csrf, phone: PERSON_1.phone }).expect(429)
    assert.match(res.text, /You can ask for a new code in 40 seconds/)
  })

  it('rate-limits codes to one number', async () => {
    // Start at the beginning of an hour window, so the six sends fall into one fixed window.
    clock.advance(3600 - ((clock.now().getTime() / 1000) % 3600) + 1)
    const { browser, csrf } = await startEnrollment(server)
    const number = '010-9999-0001'
    for (let i = 0; i < 5; i++) {
      await browser.post('/enroll/phone/send').type('form').send({ csrf, phone: number }).expect(303)
      clock.advance(61)
    }
    const res = await browser.post('/enroll/phone/send').type('form').send({ csrf, phone: number }).expect(429)
    assert.match(res.text, /요청이 너무 많습니다/)
  })

  it('rate-limits codes from one client address', async () => {
    clock.advance(3600 - ((clock.now().getTime() / 1000) % 3600) + 1)
    for (let i = 0; i < 20; i++) {
      const { browser, csrf } = await startEnrollment(server)
      await browser.post('/enroll/phone/send').type('form').send({ csrf, phone: `010-8000-${String(i).padStart(4, '0')}` }).expect(303)
    }
    const { browser, csrf } = await startEnrollment(server)
    const res = await browser.post('/enroll/phone/send').type('form').send({ csrf, phone: '010-8000-9999' }).expect(429)
    assert.match(res.text, /요청이 너무 많습니다/)
    clock.advance(3600)
  })

  it('says how long the code is good for and when another can be sent, from the server\'s clock (#17)', async () => {
    clock.advance(3600)
    const { browser, csrf } = await startEnrollment(server)
    await browser.post('/enroll/phone/send').type('form').send({ csrf, phone: '010-5555-0101' }).expect(303)
    const timers = async () => {
      const page = (await browser.get('/enroll/phone').expect(200)).text
      return {
        code: page.match(/<p class="hint" id="code-timer" role="timer" data-until="[\d:]*" data-seconds="(\d+)">([^<]*)<\/p>/)?.slice(1),
        resend: page.match(/<p class="hint" id="resend-timer" data-seconds="(\d+)">([^<]*)<\/p>/)?.slice(1),
        resendDisabled: /<button type="submit" class="secondary" id="resend" aria-disabled="true"/.test(page),
        expired: /<p class="error" id="code-expired" role="alert">인증번호 유효시간\(3분\)이 지났습니다/.test(page) && !/id="code-expired" role="alert" hidden/.test(page),
      }
    }
    const until = new Date(clock.now().getTime() + 180_000 + 9 * 3600_000).toISOString().slice(11, 16)
    assert.deepEqual(await timers(), { code: ['180', `${until}까지 입력해 주세요.`], resend: ['60', '60초 후에 다시 받을 수 있습니다.'], resendDisabled: true, expired: false })
    clock.advance(45)
    assert.deepEqual(await timers(), { code: ['135', `${until}까지 입력해 주세요.`], resend: ['15', '15초 후에 다시 받을 수 있습니다.'], resendDisabled: true, expired: false })
    clock.advance(135)
    assert.deepEqual(await timers(), { code: ['0', ''], resend: ['0', ''], resendDisabled: false, expired: true })
  })

  it('refuses a number that is not a Korean mobile number', async () => {
    const { browser, csrf } = await startEnrollment(server)
    const res = await browser.post('/enroll/phone/send').type('form').send({ csrf, phone: '02-123-4567' }).expect(400)
    assert.match(res.text, /휴대폰 번호 형식이 올바르지 않습니다/)
    assert.match(res.text, /value="02-123-4567"/, 'what was typed stays in the field')
  })

  // One answer for every failed identity check: telling them apart lets anyone probe a stranger's details.
  const NOT_VERIFIED = /입력한 정보로 본인을 확인하지 못했습니다[^<]*2번 더 시도할 수 있습니다/
  for (const [what, patch, message] of [
    ['an unknown person', { number: '900115-1999999' }, NOT_VERIFIED],
    ['details that do not match the document', { name: '김우중' }, NOT_VERIFIED],
    ['a malformed birth date', { birthdate: '1990-02-30' }, /생년월일을\(를\) 날짜로 입력해 주세요/],
    ['a resident number that does not start with the birth date', { number: '910115-1000001' }, /주민등록번호 앞 6자리가 생년월일과 다릅니다/],
  ] as const) {
    it(`refuses ${what}`, async () => {
      const { browser, csrf } = await startEnrollment(server)
      clock.advance(61)
      await verifyPhone(server, browser, csrf, PERSON_1.phone, E164_1)
      const res = await browser.post('/enroll/identity').type('form').send({ csrf, ...identity(PERSON_1), ...patch }).expect(400)
      assert.match(res.text, message)
      assert.ok(!res.text.includes('1000001'), 'the document number is not echoed back')
    })
  }

  it('shows every field to fix at once, each under its own label, and focuses the first (#17)', async () => {
    const { browser, csrf } = await startEnrollment(server)
    clock.advance(61)
    await verifyPhone(server, browser, csrf, PERSON_1.phone, E164_1)
    const { number: _number, ...rest } = identity(PERSON_1)
    const res = await browser.post('/enroll/identity').type('form')
      .send({ csrf, ...rest, name: '', birthdate: '1990-02-30', number_front: '9001', number_back: '1000001' }).expect(400)
    const page = res.text.replace(/&#x3D;/g, '=')
    assert.match(page, /<div class="error error-summary" role="alert" id="form-error">\s*<p>고칠 곳이 3군데 있습니다/)
    const summary = page.slice(page.indexOf('error-summary'), page.indexOf('</div>', page.indexOf('error-summary')))
    assert.deepEqual([...summary.matchAll(/<a href="#([\w-]+)">/g)].map((m) => m[1]), ['name', 'birthdate', 'number_front'], 'each problem links to its box, in the form\'s order')
    assert.match(page, /<p class="field-error" id="name-error">이름은 글자로 40자까지 입력해 주세요[^<]*<\/p>\s*<input id="name"[^>]* aria-invalid="true" aria-describedby="name-error" autofocus>/)
    assert.match(page, /<p class="field-error" id="birthdate-error">생년월일을\(를\) 날짜로 입력해 주세요. 예: 1990-01-15<\/p>\s*<input id="birthdate"[^>]* value="1990-02-30" aria-invalid="true" aria-describedby="birthdate-error">/)
    assert.match(page, /<p class="field-error" id="resident-number-error">주민등록번호 앞 6자리와 뒤 7자리를 숫자로 입력해 주세요.<\/p>/)
    assert.match(page, /<input id="number_front"[^>]* aria-invalid="true" aria-describedby="resident-number-error">/)
    assert.equal((page.match(/autofocus/g) ?? []).length, 1, 'one field has the focus')
    assert.ok(!page.includes('1000001') && !page.includes('9001<'), 'the document number is not echoed back')
  })

  it('takes the resident number from its two boxes, the back one masked', async () => {
    clock.advance(86_400) // a new day: the identity checks above spent this address's daily ones
    const { browser, csrf } = await startEnrollment(server)
    await verifyPhone(server, browser, csrf, PERSON_1.phone, E164_1)
    const form = await browser.get('/enroll/identity').expect(200)
    assert.match(form.text, /<input id="number_back" name="number_back" type="password" inputmode="numeric" autocomplete="off" maxlength="7"/)
    assert.match(form.text, /<input id="number_front" name="number_front" type="text" inputmode="numeric" autocomplete="off" maxlength="6"/)
    const { number: _number, ...rest } = identity(PERSON_1)
    const [front, back] = PERSON_1.number.split('-')
    await browser.post('/enroll/identity').type('form').send({ csrf, ...rest, number_front: front, number_back: back }).expect(303).expect('Location', '/enroll/holder')
  })

  it('refuses a phone that belongs to someone else, with the same answer', async () => {
    const { browser, csrf } = await startEnrollment(server)
    clock.advance(61)
    await verifyPhone(server, browser, csrf, PERSON_2.phone, E164_2)
    const res = await browser.post('/enroll/identity').type('form').send({ csrf, ...identity(PERSON_1) }).expect(400)
    assert.match(res.text, NOT_VERIFIED)
  })

  /** To just past the next midnight (UTC): the daily identity limits start afresh, far from the next. */
  const nextDay = () => clock.advance(86_400 - Math.floor(clock.now().getTime() / 1000) % 86_400 + 1)

  it('allows three identity attempts per verified phone, then starts again from the phone', async () => {
    nextDay()
    const { browser, csrf } = await startEnrollment(server)
    await verifyPhone(server, browser, csrf, PERSON_1.phone, E164_1)
    // Guessing a stranger's issue date, one answer at a time.
    for (const [i, day] of ['2015-03-01', '2015-03-03'].entries()) {
      const res = await browser.post('/enroll/identity').type('form').send({ csrf, ...identity(PERSON_1), issue_date: day }).expect(400)
      assert.match(res.text, new RegExp(`${2 - i}번 더 시도할 수 있습니다`))
    }
    const third = await browser.post('/enroll/identity').type('form').send({ csrf, ...identity(PERSON_1), issue_date: '2015-03-04' }).expect(400)
    assert.match(third.text, /본인확인에 여러 번 실패했습니다. 휴대폰 인증부터 다시 해 주세요/)
    await browser.get('/enroll/identity').expect(303).expect('Location', '/enroll/phone')
    // Even the right details wait for a new phone code.
    const right = await browser.post('/enroll/identity').type('form').set('Accept', 'application/json').send({ csrf, ...identity(PERSON_1) }).expect(409)
    assert.equal(right.body.error, 'step_not_allowed')
    clock.advance(61)
    await verifyPhone(server, browser, csrf, PERSON_1.phone, E164_1)
    await browser.post('/enroll/identity').type('form').send({ csrf, ...identity(PERSON_1) }).expect(303)
  })

  it('limits identity checks per document number, whatever the enrollment', async () => {
    nextDay()
    let refused
    for (let i = 0; i < 6 && refused === undefined; i++) {
      const { browser, csrf } = await startEnrollment(server)
      clock.advance(721) // five codes an hour to one number
      await verifyPhone(server, browser, csrf, PERSON_2.phone, E164_2)
      const res = await browser.post('/enroll/identity').type('form').send({ csrf, ...identity(PERSON_1), issue_date: `2015-03-1${i}` })
      if (res.status === 429) refused = i
    }
    assert.equal(refused, 5, 'the sixth check of one document in a day is refused')
  })

  it('does not let a step be skipped or replayed', async () => {
    const { browser, csrf } = await startEnrollment(server)
    const skipped = await browser.post('/enroll/identity').type('form').set('Accept', 'application/json').send({ csrf, ...identity(PERSON_1) }).expect(409)
    assert.equal(skipped.body.error, 'step_not_allowed')
    await browser.get('/enroll/identity').expect(303).expect('Location', '/enroll/phone')
    await browser.get('/enroll/holder').expect(303).expect('Location', '/enroll/phone')

    clock.advance(61)
    await browser.post('/enroll/phone/send').type('form').send({ csrf, phone: PERSON_1.phone }).expect(303)
    const code = await lastCode(server, E164_1)
    await browser.post('/enroll/phone/verify').type('form').send({ csrf, code }).expect(303)
    const replayed = await browser.post('/enroll/phone/verify').type('form').set('Accept', 'text/html').send({ csrf, code }).expect(409)
    assert.match(replayed.text, /지금은 이 단계를 진행할 수 없습니다/)
    assert.match(replayed.text, /href="\/enroll"/)
  })

  it('expires after 15 minutes', async () => {
    const { browser, csrf } = await startEnrollment(server)
    clock.advance(15 * 60)
    const res = await browser.post('/enroll/phone/send').type('form').set('Accept', 'text/html').send({ csrf, phone: PERSON_1.phone }).expect(400)
    assert.match(res.text, /처음부터 다시 시작해 주세요/)
    assert.match(res.text, /<a class="button" href="\/enroll">처음부터 다시 시작<\/a>/)
    await browser.get('/enroll').expect(200)
  })

  it('refuses a POST without the CSRF token, or with another enrollment\'s', async () => {
    const { browser } = await startEnrollment(server)
    await browser.post('/enroll/phone/send').type('form').send({ phone: PERSON_1.phone }).expect(403)
    const other = await startEnrollment(server)
    await browser.post('/enroll/phone/send').type('form').send({ csrf: other.csrf, phone: PERSON_1.phone }).expect(403)
    const start = await request(server.url).post('/enroll/start').type('form').send({ csrf: 'x' }).expect(403)
    assert.equal(start.body.error, 'invalid_csrf_token')
  })

  it('shows the journey in English with ui_locales=en, keeping the choice across steps', async () => {
    const browser = request.agent(server.url)
    const start = await browser.get('/enroll?ui_locales=en').expect(200)
    assert.match(start.text, /<html lang="en">/)
    assert.match(start.text, /What you need/)
    const started = await browser.post('/enroll/start?ui_locales=en').type('form').send({ csrf: csrfOf(start.text) }).expect(303)
    assert.equal(started.headers.location, '/enroll/phone?ui_locales=en')
    const phone = await browser.get(started.headers.location!).expect(200)
    assert.match(phone.text, /Verify your phone/)
    assert.match(phone.text, /Step 1 of 4/)
  })
})
