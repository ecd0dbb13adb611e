import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import request from 'supertest'
import { ACR_HIGH } from '../../src/possession/assurance.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { signInToPortal } from '../account/helpers.ts'
import { LoginHarness } from './harness.ts'
import { loginSuite } from '../helpers/suite.ts'

/** Where an authorization request in `browser` leads: the login page, a code, or an error. */
async function outcome(h: LoginHarness, rp: Awaited<ReturnType<LoginHarness['relyingParty']>>, browser: request.Agent, extra: Record<string, string> = {}) {
  const started = await h.authorize(rp, extra, browser)
  if (started.location.startsWith('/interaction/')) {
    const page = await browser.get(started.location).expect(200)
    return { login: true, passkeyOnly: /id="passkey-only"/.test(page.text), started }
  }
  const step = await h.follow(browser, started.location)
  return { login: false, code: step.callback?.searchParams.get('code') ?? undefined, error: step.callback?.searchParams.get('error') ?? undefined, started }
}

describe('every institution login proves possession: when a PostCert session is reused', () => {
  const clock = new ManualClock()
  let bank: Awaited<ReturnType<LoginHarness['relyingParty']>>
  let insurer: Awaited<ReturnType<LoginHarness['relyingParty']>>

  const { server, h } = loginSuite(clock, () => ({ env: { LOGIN_REUSE_SECONDS: '2' } }))
  before(async () => {
    bank = await h.relyingParty({ name: '재사용은행', redirectUri: 'https://bank.reuse.example.kr/cb' })
    insurer = await h.relyingParty({ name: '재사용보험', redirectUri: 'https://insurer.reuse.example.kr/cb' })
  })

  it('another institution in the same browser gets the login page, and login_required with prompt=none', async () => {
    const holder = await h.subscriber()
    const { browser } = await h.login(bank, holder)
    const silent = await outcome(h, bank, browser, { prompt: 'none' })
    assert.ok(silent.code, 'the institution the login was made for: a code at once')
    assert.equal((await outcome(h, insurer, browser, { prompt: 'none' })).error, 'login_required')
    const other = await outcome(h, insurer, browser)
    assert.equal(other.login, true, 'the login page, not a one-click registration')
    // Proving possession there moves the session's login to that institution: the bank now asks again.
    await h.login(insurer, holder, {}, browser)
    assert.equal((await outcome(h, bank, browser, { prompt: 'none' })).error, 'login_required')
  })

  it('the same institution only within LOGIN_REUSE_SECONDS of the login', async () => {
    const holder = await h.subscriber()
    const { browser } = await h.login(bank, holder)
    assert.ok((await outcome(h, bank, browser, { prompt: 'none' })).code)
    assert.ok((await outcome(h, bank, browser, { max_age: '60' })).code, 'max_age that the login meets')
    await new Promise((resolve) => setTimeout(resolve, 3100))
    assert.equal((await outcome(h, bank, browser, { prompt: 'none' })).error, 'login_required')
    assert.equal((await outcome(h, bank, browser)).login, true)
  })

  it('a higher level than the session\'s asks for a new proof with a holder that gives it', async () => {
    const holder = await h.subscriber()
    const { browser, tokens } = await h.login(bank, holder)
    assert.equal(tokens.claims()!.acr, 'urn:postcert:loa:substantial')
    assert.equal((await outcome(h, bank, browser, { prompt: 'none', acr_values: ACR_HIGH })).error, 'login_required')
    const voluntary = await outcome(h, bank, browser, { acr_values: ACR_HIGH })
    assert.deepEqual([voluntary.login, voluntary.passkeyOnly], [true, true], 'the login page, for a passkey')
    const essential = await outcome(h, bank, browser, { claims: JSON.stringify({ id_token: { acr: { essential: true, value: ACR_HIGH } } }) })
    assert.deepEqual([essential.login, essential.passkeyOnly], [true, true])
  })

  it('the portal\'s logout ends the PostCert session it signed in with', async () => {
    const holder = await h.subscriber()
    const { browser, csrf } = await signInToPortal(h, server, holder)
    const sessions = () => server.ctx.db.selectFrom('oidc_payload').select('id').where('model', '=', 'Session')
      .where('certificate_serial', '=', holder.certificate.serial).execute()
    assert.equal((await sessions()).length, 1)
    await browser.post('/account/logout').type('form').send({ csrf }).expect(200)
    assert.equal((await sessions()).length, 0)
    const back = await browser.get('/account').expect(303)
    assert.match(back.headers.location!, /prompt=login/)
  })

  it('a login whose certificate is revoked before it returns to the institution opens nothing', async () => {
    const holder = await h.subscriber()
    await h.login(bank, holder) // registered at the bank
    const flow = await h.begin(bank)
    const { response } = await h.prove(flow, holder)
    assert.equal(response.status, 200)
    await server.ctx.authority.revoke(holder.certificate.serial, 'keyCompromise')
    const resumed = await flow.browser.get(new URL(response.body.redirect).pathname)
    assert.equal(resumed.status, 400, 'the login it finished is gone with the certificate')
    assert.match(resumed.text, /id="error-code"/)
  })

  it('a registration page left open when the certificate is suspended cannot be completed', async () => {
    const holder = await h.subscriber()
    const flow = await h.begin(insurer, { prompt: 'consent' })
    const { response } = await h.prove(flow, holder)
    const consent = await h.follow(flow.browser, response.body.redirect)
    assert.match(consent.path!, /^\/interaction\//, 'the registration page')
    await server.ctx.authority.suspend(holder.certificate.serial)
    const csrf = consent.page!.match(/name="csrf" value="([^"]+)"/)![1]!
    const answer = await flow.browser.post(`${consent.path}/consent`).type('form').send({ csrf, decision: 'approve' })
    assert.notEqual(answer.status, 303, 'not on to the institution')
    assert.equal((await server.ctx.db.selectFrom('registration').select('client_id').where('subscriber_id', '=', holder.id).execute()).length, 0)
  })
})
