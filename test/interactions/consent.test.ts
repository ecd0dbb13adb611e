import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as client from 'openid-client'
import { buildConfig } from '../../src/config/config.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { LoginHarness } from '../login/harness.ts'

/**
 * The registration page as the Personal Information Protection Act (개인정보 보호법, articles 17
 * and 22) asks a consent to provide personal information to a third party to be given: who gets
 * it, for what, which items, for how long, the right to refuse and what refusing costs; required
 * and optional items apart, optional ones not ticked in advance; ongoing access disclosed (#17, item 6).
 */
describe('the registration page (consent)', () => {
  let server: TestServer
  let h: LoginHarness
  const clock = new ManualClock()
  before(async () => {
    server = await startTestServer({ overrides: { clock }, env: { CONSENT_RETENTION: '회원 탈퇴 시까지' } })
    h = new LoginHarness(server, clock)
  })
  after(async () => { await server.close() })

  /** A login up to the registration page; the page's text and what approving it does. */
  async function toConsent(rp: Awaited<ReturnType<LoginHarness['relyingParty']>>, scope: string, extra: Record<string, string> = {}) {
    const holder = await h.subscriber()
    const flow = await h.begin(rp, { scope, prompt: 'consent', ...extra })
    const { response } = await h.prove(flow, holder)
    const step = await h.follow(flow.browser, response.body.redirect)
    assert.ok(step.page, 'the registration page')
    const page = step.page.replace(/&#x3D;/g, '=')
    const csrf = page.match(/name="csrf" value="([^"]+)"/)![1]!
    const approve = async (form: Record<string, string | string[]>) => {
      const approved = await flow.browser.post(`${step.path}/consent`).type('form').send({ csrf, decision: 'approve', ...form }).expect(303)
      const callback = (await h.follow(flow.browser, approved.headers.location!)).callback!
      const tokens = await client.authorizationCodeGrant(rp.config, callback, { pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce })
      return await client.fetchUserInfo(rp.config, tokens.access_token, tokens.claims()!.sub)
    }
    return { page, approve }
  }

  it('names who gets what, for what and how long, and the right to refuse, from the institution\'s registration', async () => {
    const rp = await h.relyingParty({
      name: '목적은행', redirectUri: 'https://purpose.example.kr/cb', scope: 'openid profile phone offline_access',
      metadata: { 'postcert_purpose#ko': '예금 계좌 개설과 본인 확인', 'postcert_retention#ko': '거래 종료 후 5년', postcert_optional_scopes: 'phone' },
    })
    const { page, approve } = await toConsent(rp, 'openid profile phone offline_access')
    const terms = page.match(/<dl class="facts consent-terms" id="required-terms">[\s\S]*?<\/dl>/)?.[0]
    assert.ok(terms, 'the required consent\'s terms')
    assert.match(terms, /<dt>제공받는 자<\/dt><dd>목적은행<\/dd>/)
    assert.match(terms, /<dt>제공 목적<\/dt><dd>예금 계좌 개설과 본인 확인<\/dd>/)
    assert.match(terms, /<dt>제공 항목<\/dt><dd>이 기관 전용 식별번호, 이름, 생년월일<\/dd>/, 'the required items only')
    assert.match(terms, /<dt>보유·이용 기간<\/dt><dd>거래 종료 후 5년<\/dd>/)
    assert.match(terms, /<dt>로그인 유지<\/dt><dd>[^<]*등록을 해지할 때까지[^<]*<\/dd>/, 'ongoing access disclosed')
    assert.match(page, /<p id="refusal">동의를 거부할 권리가 있습니다. 거부하면 목적은행에 이 인증서로 로그인할 수 없습니다.<\/p>/)
    // The optional item apart, not ticked in advance, and what declining it means.
    const optional = page.match(/<fieldset id="optional-terms">[\s\S]*?<\/fieldset>/)?.[0]
    assert.ok(optional, 'the optional items apart')
    assert.match(optional, /<legend>선택 항목<\/legend>/)
    assert.match(optional, /<input type="checkbox" name="optional_scope" value="phone"> 휴대폰 번호<\/label>/)
    assert.doesNotMatch(optional, /checked/)
    assert.match(optional, /동의하지 않아도 로그인할 수 있습니다/)

    // Declined: the institution gets the required items only.
    const userinfo = await approve({})
    assert.equal(userinfo.name, '김우정')
    assert.equal(userinfo.phone_number, undefined, 'the optional item declined is not released')
  })

  it('a declined item stays declined when the request also names its claims one by one (the claims parameter)', async () => {
    const rp = await h.relyingParty({
      name: '청구은행', redirectUri: 'https://claims.example.kr/cb', scope: 'openid profile phone', metadata: { postcert_optional_scopes: 'phone' },
    })
    const { approve } = await toConsent(rp, 'openid profile phone', { claims: JSON.stringify({ userinfo: { phone_number: null, phone_number_verified: null } }) })
    const userinfo = await approve({})
    assert.equal(userinfo.phone_number, undefined)
    assert.equal(userinfo.phone_number_verified, undefined)
    assert.equal(userinfo.name, '김우정')
  })

  it('releases an optional item the subscriber ticked', async () => {
    const rp = await h.relyingParty({
      name: '선택은행', redirectUri: 'https://optional.example.kr/cb', scope: 'openid profile phone', metadata: { postcert_optional_scopes: 'phone' },
    })
    const { approve } = await toConsent(rp, 'openid profile phone')
    const userinfo = await approve({ optional_scope: 'phone' })
    assert.equal(userinfo.phone_number, '+821000000001')
  })

  it('without the institution\'s own purpose and retention, says the operator\'s; every item is required when none is optional', async () => {
    const rp = await h.relyingParty({ name: '기본은행', redirectUri: 'https://default.example.kr/cb', scope: 'openid profile phone' })
    const { page } = await toConsent(rp, 'openid profile phone')
    assert.match(page, /<dt>제공 목적<\/dt><dd>본인 확인과 로그인<\/dd>/, 'the default purpose')
    assert.match(page, /<dt>보유·이용 기간<\/dt><dd>회원 탈퇴 시까지<\/dd>/, 'CONSENT_RETENTION')
    assert.match(page, /<dt>제공 항목<\/dt><dd>이 기관 전용 식별번호, 이름, 생년월일, 휴대폰 번호<\/dd>/)
    assert.doesNotMatch(page, /optional-terms/)
    assert.doesNotMatch(page, /로그인 유지/, 'no ongoing access asked, none disclosed')
  })

  it('refuses an institution\'s consent texts that are not plain text, and optional scopes it cannot ask for', async () => {
    const store = server.ctx.clients
    const add = (metadata: Record<string, unknown>) => store.add({ name: '잘못은행', redirectUris: ['https://wrong.example.kr/cb'], metadata })
    await assert.rejects(add({ 'postcert_purpose#ko': '<b>목적</b>' }), /postcert_purpose#ko/)
    await assert.rejects(add({ 'postcert_retention#en': 'x'.repeat(201) }), /postcert_retention#en/)
    await assert.rejects(add({ postcert_optional_scopes: 'openid' }), /postcert_optional_scopes/)
    await assert.rejects(add({ postcert_optional_scopes: 'profile email' }), /postcert_optional_scopes/)
    assert.throws(() => buildConfig({ CONSENT_PURPOSE: '<script>' }), /CONSENT_PURPOSE/)
  })

  it('in English, with the institution\'s English texts', async () => {
    const rp = await h.relyingParty({ name: 'Bank', redirectUri: 'https://english.example.kr/cb', scope: 'openid profile', metadata: { 'postcert_purpose#en': 'Opening an account' } })
    const { page } = await toConsent(rp, 'openid profile', { ui_locales: 'en' })
    assert.match(page, /<dt>Recipient<\/dt><dd>Bank<\/dd>/)
    assert.match(page, /<dt>Purpose<\/dt><dd>Opening an account<\/dd>/)
    assert.match(page, /<dt>Kept for<\/dt><dd>Until you end the registration or leave the institution/, 'the default retention, in English')
  })
})
