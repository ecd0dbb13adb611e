import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { before, describe, it } from 'node:test'
import * as client from 'openid-client'
import { ManualClock } from '../../src/util/clock.ts'
import { issueCertificate } from '../helpers/pki.ts'
import { LoginHarness } from './harness.ts'
import { loginSuite } from '../helpers/suite.ts'

interface CertificateClaim { serial: string; 'x5t#S256': string; not_after: string }

describe('the certificate claim, login_hint and id_token_hint (openid-client)', () => {
  let rp: Awaited<ReturnType<LoginHarness['relyingParty']>>
  const clock = new ManualClock()

  const { server, h } = loginSuite(clock)
  before(async () => {
    // The certificate claim is the operator's to release (its serial names the subscriber wherever it goes).
    rp = await h.relyingParty({ name: 'Claims Bank', redirectUri: 'https://rp.example.kr/cb', scope: 'openid profile phone certificate offline_access', certificateClaim: true })
  })

  const expected = (certificate: { serial: string; der: Uint8Array; notAfter: Date }): CertificateClaim => ({
    serial: certificate.serial,
    'x5t#S256': createHash('sha256').update(certificate.der).digest('base64url'),
    not_after: certificate.notAfter.toISOString(),
  })

  it('names the certificate used at userinfo, also with an access token from a refresh', async () => {
    const holder = await h.subscriber()
    const { tokens } = await h.login(rp, holder, { scope: 'openid certificate offline_access', prompt: 'consent' })
    const { sub } = tokens.claims()!
    // Scope claims go to userinfo; the ID token carries them only when the claims parameter asks.
    assert.equal(tokens.claims()!.certificate, undefined)
    const userinfo = await client.fetchUserInfo(rp.config, tokens.access_token, sub)
    assert.deepEqual(userinfo.certificate, expected(holder.certificate))
    const refreshed = await client.refreshTokenGrant(rp.config, tokens.refresh_token!)
    assert.deepEqual((await client.fetchUserInfo(rp.config, refreshed.access_token, sub)).certificate, expected(holder.certificate))
  })

  it('puts it in the ID token when the claims parameter asks for it there', async () => {
    const holder = await h.subscriber()
    const { tokens } = await h.login(rp, holder, { scope: 'openid certificate', claims: JSON.stringify({ id_token: { certificate: { essential: true } } }) })
    assert.deepEqual(tokens.claims()!.certificate, expected(holder.certificate))
  })

  it('names each login\'s own certificate when two logins share a browser session', async () => {
    const holder = await h.subscriber()
    const first = await h.login(rp, holder, { scope: 'openid certificate' })
    const second = await issueCertificate(server.ctx.authority, { subscriberId: holder.id, displayName: '김우정' })
    // A login is told apart by its auth_time (seconds): a person cannot log in twice in a second.
    await new Promise((resolve) => setTimeout(resolve, 1100))
    const again = await h.login(rp, { ...holder, ...second }, { scope: 'openid certificate', prompt: 'login' }, first.browser)
    const userinfo = async (tokens: typeof first.tokens) => (await client.fetchUserInfo(rp.config, tokens.access_token, tokens.claims()!.sub)).certificate
    // Each login's tokens name its own certificate, though both logins share the browser session.
    assert.deepEqual(await userinfo(again.tokens), expected(second.certificate))
    assert.deepEqual(await userinfo(first.tokens), expected(holder.certificate))
  })

  it('leaves it out without the scope, and gives it when the claims parameter asks', async () => {
    const holder = await h.subscriber()
    const plain = await h.login(rp, holder, { scope: 'openid profile' })
    const sub = plain.tokens.claims()!.sub
    assert.equal(plain.tokens.claims()!.certificate, undefined)
    assert.equal((await client.fetchUserInfo(rp.config, plain.tokens.access_token, sub)).certificate, undefined)

    const asked = await h.login(rp, holder, { scope: 'openid', claims: JSON.stringify({ userinfo: { certificate: null } }), prompt: 'consent' })
    const userinfo = await client.fetchUserInfo(rp.config, asked.tokens.access_token, sub)
    assert.deepEqual(userinfo.certificate, expected(holder.certificate))
  })

  it('releases it only to clients the operator approved: not asked of the subscriber, not given', async () => {
    const holder = await h.subscriber()
    const other = await h.relyingParty({ name: 'Unapproved Bank', redirectUri: 'https://unapproved.example.kr/cb', scope: 'openid certificate' })
    const flow = await h.begin(other, { scope: 'openid certificate', claims: JSON.stringify({ id_token: { certificate: { essential: true } } }) })
    assert.doesNotMatch(flow.page.text, /사용한 인증서 정보/)
    const { tokens } = await h.login(other, holder, { scope: 'openid certificate', claims: JSON.stringify({ id_token: { certificate: { essential: true } } }) })
    assert.equal(tokens.claims()!.certificate, undefined)
    assert.equal((await client.fetchUserInfo(other.config, tokens.access_token, tokens.claims()!.sub)).certificate, undefined)
  })

  it('lists the certificate among what the institution receives on the registration page', async () => {
    const holder = await h.subscriber()
    const flow = await h.begin(rp, { scope: 'openid certificate' })
    const { response } = await h.prove(flow, holder)
    const step = await h.follow(flow.browser, response.body.redirect)
    assert.match(step.page!, /사용한 인증서 정보/)
  })

  it('shows the institution (name, logo) and what it asks for on the login page', async () => {
    const bank = await h.relyingParty({ name: '로고 은행', redirectUri: 'https://logo.example.kr/cb', certificateClaim: true, metadata: { logo_uri: 'https://logo.example.kr/logo.png' } })
    const flow = await h.begin(bank, { scope: 'openid phone certificate' })
    assert.match(flow.page.text, /<img src="https:\/\/logo\.example\.kr\/logo\.png" alt=""/)
    assert.match(flow.page.text, /<strong>로고 은행<\/strong>/)
    const asks = flow.page.text.slice(flow.page.text.indexOf('class="asks-for"'))
    for (const item of ['이 기관 전용 식별번호', '휴대폰 번호', '사용한 인증서 정보']) assert.ok(asks.includes(item), item)
    assert.ok(!asks.slice(0, asks.indexOf('</details>')).includes('생년월일'), 'profile was not asked for')
    assert.match(flow.page.headers['content-security-policy']!, /img-src 'self' data: https:/)
  })

  it('passes login_hint (a serial) to the login page, and ignores other hints', async () => {
    const holder = await h.subscriber()
    const hinted = await h.begin(rp, { login_hint: holder.certificate.serial.toUpperCase() })
    assert.match(hinted.page.text, new RegExp(`data-login-hint="${holder.certificate.serial}"`))
    const other = await h.begin(rp, { login_hint: 'user@example.com"><script>' })
    assert.doesNotMatch(other.page.text, /data-login-hint/)
  })

  it('id_token_hint: silent login for the same subscriber, login_required for another', async () => {
    const alice = await h.subscriber()
    const bob = await h.subscriber()
    const { tokens, browser } = await h.login(rp, alice)
    const bobs = await h.login(rp, bob)

    const same = await h.authorize(rp, { prompt: 'none', id_token_hint: tokens.id_token! }, browser)
    assert.ok((await h.follow(browser, same.location)).callback?.searchParams.get('code'), 'a code for the hinted subscriber')

    const other = await h.authorize(rp, { prompt: 'none', id_token_hint: bobs.tokens.id_token! }, browser)
    assert.equal(new URL(other.location).searchParams.get('error'), 'login_required')

    // Without prompt=none, the hint of someone else means a new login.
    const interactive = await h.authorize(rp, { id_token_hint: bobs.tokens.id_token! }, browser)
    assert.match(interactive.location, /^\/interaction\//)
  })

  it('refuses an id_token_hint that is not an ID token of ours', async () => {
    const res = await h.authorize(rp, { prompt: 'none', id_token_hint: 'eyJhbGciOiJub25lIn0.e30.' })
    const url = new URL(res.location)
    assert.equal(url.searchParams.get('error'), 'invalid_request')
    assert.match(url.searchParams.get('error_description') ?? '', /id_token_hint/)
  })
})
