import assert from 'node:assert/strict'
import { generateKeyPairSync, sign } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import request from 'supertest'
import { ManualClock } from '../../src/util/clock.ts'
import { LoginHarness } from '../login/harness.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { csrfOf, PERSON_1, PERSON_2, verifyPhone } from './helpers.ts'

/**
 * The enrollment's end (#17, item 3): the way back to the institution whose login page sent the
 * subscriber, a done page that tells the certificate as it is now, and a new enrollment possible
 * at once.
 */
describe('after the enrollment', () => {
  let server: TestServer
  let h: LoginHarness
  const clock = new ManualClock()
  before(async () => {
    server = await startTestServer({ overrides: { clock } })
    h = new LoginHarness(server, clock)
  })
  after(async () => { await server.close() })

  /** Enrolls `person` in `browser` from `start` (the address of the first page) to the done page, with a certificate file. */
  async function enroll(browser: request.Agent, person: typeof PERSON_1, e164: string, start = '/enroll') {
    clock.advance(61)
    const first = await browser.get(start).expect(200)
    await browser.post('/enroll/start').type('form').send({ csrf: csrfOf(first.text) }).expect(303)
    const csrf = csrfOf((await browser.get('/enroll/phone').expect(200)).text)
    await verifyPhone(server, browser, csrf, person.phone, e164)
    const { phone: _phone, ...identity } = person
    await browser.post('/enroll/identity').type('form').send({ csrf, ...identity }).expect(303)
    const holderCsrf = (await browser.get('/enroll/holder').expect(200)).text.match(/data-csrf="([^"]+)"/)![1]!
    const api = (path: string, body: unknown = {}) => browser.post(path).set('Content-Type', 'application/json').set('X-CSRF-Token', holderCsrf).send(JSON.stringify(body))
    const { challenge } = (await api('/enroll/holder/challenge').expect(200)).body
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const signature = sign('sha256', Buffer.from(challenge, 'base64url'), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')
    const issued = await api('/enroll/holder/file', { spki: publicKey.export({ format: 'der', type: 'spki' }).toString('base64url'), signature, challenge }).expect(200)
    return issued.body.serial as string
  }

  it('a login page\'s "get a certificate" link leads back to that login when the certificate is issued', async () => {
    const rp = await h.relyingParty({ name: '돌아갈은행', redirectUri: 'https://back.example.kr/cb' })
    const flow = await h.begin(rp)
    const link = flow.page.text.match(/<a href="(\/enroll\?from=[^"]+)">/)?.[1]?.replace(/&#x3D;/g, '=')
    assert.equal(link, `/enroll?from=${flow.uid}`, 'the login page\'s link names its login')
    await enroll(flow.browser, PERSON_1, '+821000000001', link)
    const done = await flow.browser.get('/enroll/done').expect(200)
    assert.match(done.text, new RegExp(`<a class="button" id="back-to-login" href="/interaction/${flow.uid}">돌아갈은행 로그인으로 돌아가기</a>`))
    // The way back is the login page itself, where the new certificate is chosen.
    const back = await flow.browser.get(`/interaction/${flow.uid}`).expect(200)
    assert.match(back.text, /돌아갈은행/)
  })

  it('offers no way back to a login that is over, or to what is not a login of this browser', async () => {
    const browser = request.agent(server.url)
    await enroll(browser, PERSON_2, '+821000000002', '/enroll?from=not-a-login')
    const done = (await browser.get('/enroll/done').expect(200)).text
    assert.doesNotMatch(done, /back-to-login/)
    assert.match(done, /<a class="button" href="\/account">/, 'the portal is the next step')
    for (const from of ['https://evil.example/x', '//evil.example', '/interaction/x/../../x', 'a'.repeat(200)]) {
      const page = await request.agent(server.url).get(`/enroll?from=${encodeURIComponent(from)}`).expect(200)
      assert.doesNotMatch(page.headers['set-cookie']?.toString() ?? '', /postcert_enroll_from/, `${from} is not kept`)
    }
  })

  it('/enroll after the done page starts a new enrollment rather than showing the old one again', async () => {
    const browser = request.agent(server.url)
    const serial = await enroll(browser, PERSON_1, '+821000000001')
    const again = await browser.get('/enroll').expect(200)
    assert.match(again.text, /발급 시작/, 'the start page')
    // The done page itself stays reachable while the enrollment lives (the backup is offered there).
    assert.ok((await browser.get('/enroll/done').expect(200)).text.includes(serial))
    await browser.post('/enroll/start').type('form').send({ csrf: csrfOf(again.text) }).expect(303).expect('Location', '/enroll/phone')
    await browser.get('/enroll/done').expect(303).expect('Location', '/enroll/phone')
  })

  it('the done page tells the certificate as it is now: revoked since, it says so and offers no backup', async () => {
    const browser = request.agent(server.url)
    const serial = await enroll(browser, PERSON_2, '+821000000002')
    assert.match((await browser.get('/enroll/done').expect(200)).text, /id="backup"/)
    await server.ctx.authority.revoke(serial, 'keyCompromise')
    const done = (await browser.get('/enroll/done').expect(200)).text
    assert.match(done, /<p class="error" role="status" id="status-now">이 인증서는 폐기되었습니다/)
    assert.doesNotMatch(done, /id="backup"/)
    assert.doesNotMatch(done, /금융인증서가 발급되었습니다/)
    assert.match(done, /인증서 비밀번호/, 'the advice is still a certificate file\'s')
  })
})
