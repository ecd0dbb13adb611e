import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { X509Certificate } from 'node:crypto'
import * as client from 'openid-client'
import request from 'supertest'
import { koreanDate } from '../../src/util/korean-time.ts'
import { ACCOUNT_SESSION_SECONDS } from '../../src/sessions/portal-sessions.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { backchannelReceiver, type BackchannelReceiver } from '../helpers/backchannel.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { issueCertificate } from '../helpers/pki.ts'
import { LoginHarness, type Holder } from '../login/harness.ts'
import { provePortalLogin, signInToPortal } from './helpers.ts'

describe('the subscriber portal (/account)', () => {
  let server: TestServer
  let h: LoginHarness
  const clock = new ManualClock()
  let receiver: BackchannelReceiver

  before(async () => {
    receiver = await backchannelReceiver()
    server = await startTestServer({ overrides: { clock } })
    h = new LoginHarness(server, clock)
  })
  after(async () => {
    await server.close()
    await receiver.close()
  })

  const signIn = (holder: Holder, browser?: request.Agent) => signInToPortal(h, server, holder, browser)

  /** Logs in at an institution with offline access, registering there; returns its tokens. */
  async function bankLogin(holder: Holder) {
    const rp = await h.relyingParty({ name: '예시은행', redirectUri: 'https://bank.example.kr/cb', metadata: { backchannel_logout_uri: receiver.uri }, scope: 'openid offline_access profile' })
    const { tokens, browser } = await h.login(rp, holder, { scope: 'openid offline_access', prompt: 'consent' })
    assert.ok(tokens.refresh_token)
    return { rp, tokens, browser }
  }

  it('signs in with the certificate and lists it: holder, serial, status, validity, days left', async () => {
    const holder = await h.subscriber()
    const { page } = await signIn(holder)
    const row = page.match(new RegExp(`<tr data-serial="${holder.certificate.serial}">[\\s\\S]*?</tr>`))?.[0]
    assert.ok(row, 'the certificate is listed')
    assert.match(row, /인증서 파일/)
    assert.match(row, /정상 · 36[45]일 남음/)
    assert.match(row, /\d{4}-\d{2}-\d{2} ~ \d{4}-\d{2}-\d{2}/)
    // Times in Korea (#17): the login just made, as a Seoul clock shows it.
    const seoul = new Date(server.ctx.clock.now().getTime() + 9 * 3_600_000).toISOString()
    assert.match(row, new RegExp(`${seoul.slice(0, 10)} ${seoul.slice(11, 13)}:\\d{2} KST`), 'last used: this very login')
    assert.match(page, /id="no-institutions"/, 'the portal is no institution to register with')
  })

  it('shows a certificate\'s details and its PEM; another subscriber\'s certificate is not found', async () => {
    const holder = await h.subscriber()
    const stranger = await h.subscriber()
    const { browser } = await signIn(holder)
    const details = await browser.get(`/account/certificates/${holder.certificate.serial}`).expect(200)
    assert.match(details.text, new RegExp(holder.certificate.serial))
    const pem = await browser.get(`/account/certificates/${holder.certificate.serial}/pem`).expect(200)
    // Not the backup's name (postcert-<serial>.pem, which holds the key too): this file is the certificate alone (#17).
    assert.match(String(pem.headers['content-disposition']), /attachment; filename="postcert-certificate-[0-9a-f]+\.pem"/)
    assert.equal(BigInt(`0x${new X509Certificate(pem.text).serialNumber}`), BigInt(`0x${holder.certificate.serial}`))
    await browser.get(`/account/certificates/${stranger.certificate.serial}`).expect(404)
    await browser.get(`/account/certificates/${stranger.certificate.serial}/pem`).expect(404)
  })

  it('speaks plainly about a certificate (#17): the holder\'s name, not a DN; the technical details folded away; renewal only near the window; suspending explained first', async () => {
    const holder = await h.subscriber()
    const { browser, page } = await signIn(holder)
    const serial = holder.certificate.serial
    // The list links each certificate by what it is, not by a hex serial alone.
    const row = page.match(new RegExp(`<tr data-serial="${serial}">[\\s\\S]*?</tr>`))![0]
    assert.match(row, new RegExp(`<a href="/account/certificates/${serial}">인증서 파일</a>`))
    const details = (await browser.get(`/account/certificates/${serial}`).expect(200)).text
    const name = /CN=([^,]+)/.exec(holder.certificate.subject)![1]!
    assert.match(details, new RegExp(`<dt>이름</dt><dd>${name}</dd>`))
    const technical = details.match(/<details id="technical">[\s\S]*?<\/details>/)?.[0]
    assert.ok(technical, 'a folded technical section')
    assert.match(technical, /<summary>기술 정보<\/summary>/)
    for (const folded of [`<code>${serial}</code>`, 'serialNumber&#x3D;', 'id="pem-download"']) { // handlebars writes = as &#x3D;
      assert.ok(technical.includes(folded), `${folded} is inside it`)
      assert.ok(!details.replace(technical, '').includes(folded), `${folded} is not outside it`)
    }
    // A year before the window: no renewal button, the date it opens.
    assert.doesNotMatch(details, /id="renew-link"/)
    const opens = server.ctx.authority.renewalWindow(holder.certificate).opensAt
    assert.match(details, new RegExp(`<p class="muted" id="renew-later">갱신은 ${koreanDate(opens)}부터 할 수 있습니다`))
    // Suspending: what it does and how to undo it, said before; this being the certificate of this sign-in, that too.
    const suspend = details.match(/<h2 id="suspend-title">[\s\S]*?<\/form>/)![0]
    assert.match(suspend, /로그인과 서명에 쓸 수 없게 되고/)
    assert.match(suspend, /효력을 회복하려면/)
    assert.match(suspend, /지금 이 인증서로 로그인되어 있습니다/)
    assert.match(suspend, /<input type="checkbox" name="confirm" value="yes" required>/)
  })

  it('revokes an institution: its refresh token stops working, it is told by back-channel logout, and it asks to register again', async () => {
    const holder = await h.subscriber()
    const { rp, tokens } = await bankLogin(holder)
    const { browser, page, csrf } = await signIn(holder)
    assert.match(page, /<li data-client="[^"]+">\s*<strong>예시은행<\/strong>/)
    // What the registration gives, in plain Korean (#17), not scope names.
    const entry = page.match(/<li data-client="[^"]+">[\s\S]*?<\/li>/)![0]
    assert.match(entry, /이 기관 전용 식별번호/)
    assert.match(entry, /등록을 해지할 때까지 다시 로그인하지 않고 이용/)
    assert.doesNotMatch(entry, /openid|offline_access/)
    const before = receiver.tokens.length
    // Not in one click (#17): without the box ticked nothing is revoked.
    const unconfirmed = await browser.post(`/account/institutions/${rp.clientId}/revoke`).type('form').set('Accept', 'application/json').send({ csrf }).expect(400)
    assert.equal(unconfirmed.body.error, 'invalid_request')
    assert.match((await browser.get('/account').expect(200)).text, /<strong>예시은행<\/strong>/, 'still registered')
    const revoked = await browser.post(`/account/institutions/${rp.clientId}/revoke`).type('form').send({ csrf, confirm: 'yes' }).expect(303)
    assert.equal(revoked.headers.location, `/account?revoked=${rp.clientId}`)
    assert.match((await browser.get(revoked.headers.location!).expect(200)).text, /예시은행 등록을 해지했습니다/)

    await assert.rejects(client.refreshTokenGrant(rp.config, tokens.refresh_token!), (err: client.ResponseBodyError) => err.error === 'invalid_grant')
    await request(server.url).get('/me').set('Authorization', `Bearer ${tokens.access_token}`).expect(401)
    assert.equal(receiver.tokens.length, before + 1, 'one logout token')
    const claims = JSON.parse(Buffer.from(receiver.tokens.at(-1)!.split('.')[1]!, 'base64url').toString())
    assert.equal(claims.sub, tokens.claims()!.sub)
    assert.equal(claims.sid, tokens.claims()!.sid)
    assert.equal(await server.ctx.db.selectFrom('registration').select('grant_id').where('subscriber_id', '=', holder.id).executeTakeFirst(), undefined)
    const again = await h.begin(rp, { scope: 'openid' })
    const { response } = await h.prove(again, holder)
    const next = await h.follow(again.browser, response.body.redirect)
    assert.match(next.page ?? '', /등록하시겠습니까/, 'the registration page again')
  })

  it('lists the login at the institution in the activity, with a truncated address and the device', async () => {
    const holder = await h.subscriber()
    await bankLogin(holder)
    const { browser } = await signIn(holder)
    const activity = await browser.get('/account/activity').expect(200)
    assert.match(activity.text, /<td data-label="내용">로그인 <code>[0-9a-f]{8}…<\/code><\/td><td data-label="이용기관">예시은행<\/td><td data-label="접속 정보">127\.0\.0\.x<\/td>/)
    assert.match(activity.text, /이용기관 등록/)
    assert.match(activity.text, /인증서 발급/)
    assert.doesNotMatch(activity.text, /127\.0\.0\.1\b/, 'never the whole address')
  })

  it('pages the activity, newest first', async () => {
    const holder = await h.subscriber()
    const { browser } = await signIn(holder)
    for (let i = 0; i < 22; i++) await server.ctx.audit.record(server.ctx.db, { type: 'login', subscriberId: holder.id, data: { client: `c${i}` } })
    const first = await browser.get('/account/activity').expect(200)
    assert.match(first.text, /<td data-label="이용기관">c21<\/td>/)
    const next = first.text.match(/href="\/account\/activity\?before(?:=|&#x3D;)(\d+)" id="activity-next"/)![1]!
    const second = await browser.get(`/account/activity?before=${next}`).expect(200)
    assert.doesNotMatch(second.text, /<td data-label="이용기관">c21<\/td>/)
    assert.match(second.text, /인증서 발급/, 'the oldest events on the last page')
  })

  it('refuses actions without the page\'s CSRF token, or for an institution the subscriber is not registered with', async () => {
    const holder = await h.subscriber()
    const { rp } = await bankLogin(holder)
    const { browser, csrf } = await signIn(holder)
    const forged = await browser.post(`/account/institutions/${rp.clientId}/revoke`).type('form').send({ csrf: 'forged' }).expect(403)
    assert.equal(forged.body.error ?? 'invalid_csrf_token', 'invalid_csrf_token')
    await browser.post('/account/institutions/pc_unknown/revoke').type('form').send({ csrf, confirm: 'yes' }).expect(404)
    const stranger = await request(server.url).post(`/account/institutions/${rp.clientId}/revoke`).type('form').send({ csrf }).expect(400)
    assert.match(stranger.text, /sign in again/)
  })

  it('ends the session after its time, and at sign-out', async () => {
    const holder = await h.subscriber()
    const { browser, csrf } = await signIn(holder)
    await browser.get('/account').expect(200)
    clock.advance(ACCOUNT_SESSION_SECONDS + 1)
    assert.match((await browser.get('/account').expect(303)).headers.location!, /^\/auth\?/)
    const again = await signIn(holder)
    const out = await again.browser.post('/account/logout').type('form').send({ csrf: again.csrf }).expect(200)
    assert.match(out.text, /로그아웃했습니다/)
    await again.browser.get('/account').expect(303)
    assert.notEqual(csrf, again.csrf, 'each session has its own CSRF token')
  })

  it('revokes a certificate with a reason and a confirmation: the status says so at once, the portal session ends with it', async () => {
    const holder = await h.subscriber()
    const { browser, csrf } = await signIn(holder)
    const path = `/account/certificates/${holder.certificate.serial}/revoke`
    assert.match((await browser.post(path).type('form').send({ csrf, reason: 'keyCompromise' }).expect(400)).text, /tick the box/)
    assert.match((await browser.post(path).type('form').send({ csrf, confirm: 'yes' }).expect(400)).text, /choose why/)
    const done = await browser.post(path).type('form').send({ csrf, reason: 'keyCompromise', confirm: 'yes' }).expect(200)
    assert.match(done.text, /인증서를 폐기했습니다/)
    assert.match(done.text, /href="\/enroll" id="reissue"/, 'offers a new certificate')
    assert.match(done.text, /로그아웃되었습니다/, 'the portal\'s own certificate: signed out')
    const status = await request(server.url).get(`/pki/certificates/${holder.certificate.serial}`).set('Accept', 'application/json').expect(200)
    assert.equal(status.body.status, 'revoked')
    assert.equal(status.body.revocation_reason ?? status.body.reason, 'keyCompromise')
    await browser.get('/account').expect(303)
  })

  it('suspends and resumes another certificate of the subscriber; refuses what does not apply and someone else\'s', async () => {
    const holder = await h.subscriber()
    const second = (await issueCertificate(server.ctx.authority, { subscriberId: holder.id })).certificate
    const stranger = await h.subscriber()
    const { browser, csrf } = await signIn(holder)
    const act = (serial: string, action: string) => browser.post(`/account/certificates/${serial}/${action}`).type('form').send({ csrf, ...(action === 'suspend' ? { confirm: 'yes' } : {}) })
    assert.match((await act(second.serial, 'resume').expect(409)).text, /invalid_certificate_state|cannot resume/)
    // Suspending asks for the box ticked, as revoking does (#17): without it, nothing happens.
    await browser.post(`/account/certificates/${second.serial}/suspend`).type('form').send({ csrf }).expect(400)
    assert.equal((await server.ctx.authority.find(second.serial))!.status, 'good')
    assert.match((await act(second.serial, 'suspend').expect(200)).text, /효력을 정지했습니다/)
    assert.equal((await server.ctx.authority.find(second.serial))!.status, 'hold')
    assert.match((await browser.get('/account').expect(200)).text, /효력정지/)
    assert.match((await act(second.serial, 'resume').expect(200)).text, /효력을 회복했습니다/)
    assert.equal((await server.ctx.authority.find(second.serial))!.status, 'good')
    await act(stranger.certificate.serial, 'suspend').expect(404)
    assert.equal((await server.ctx.authority.find(stranger.certificate.serial))!.status, 'good', 'untouched')
    await browser.get('/account').expect(200)
  })

  it('signs in once when two callbacks come at once with the same code', async () => {
    const holder = await h.subscriber()
    const { browser, redirect } = await provePortalLogin(h, server, holder)
    const callback = new URL((await browser.get(new URL(redirect).pathname).expect(303)).headers.location!, server.url)
    const racing = await Promise.all([1, 2].map(() => browser.get(callback.pathname + callback.search)))
    assert.deepEqual(racing.map((r) => r.status).sort(), [303, 400])
  })

  it('refuses a callback that this browser did not start, or a code used twice', async () => {
    await request(server.url).get('/account/callback?code=x&state=y').expect(400)
    const holder = await h.subscriber()
    const { browser, redirect } = await provePortalLogin(h, server, holder)
    const callback = (await browser.get(new URL(redirect).pathname).expect(303)).headers.location!
    assert.match(callback, /\/account\/callback\?code=/)
    const url = new URL(callback, server.url)
    const cookies = (await browser.get(url.pathname + url.search).expect(303)).headers
    assert.ok(cookies['set-cookie'])
    // The same code again (with a new login cookie from another start): refused.
    await browser.get('/account')
    const replay = await browser.get(url.pathname + url.search)
    assert.equal(replay.status, 400)
  })
})
