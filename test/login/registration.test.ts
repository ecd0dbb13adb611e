import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import request from 'supertest'
import { ManualClock } from '../../src/util/clock.ts'
import { LoginHarness, type Holder } from './harness.ts'
import { loginSuite } from '../helpers/suite.ts'

describe('registration at the institution (consent)', () => {
  let rp: Awaited<ReturnType<LoginHarness['relyingParty']>>
  const clock = new ManualClock()

  const { server, h } = loginSuite(clock)
  before(async () => {
    rp = await h.relyingParty({ name: 'Registration Bank', redirectUri: 'https://reg.example.kr/cb' })
  })

  /** Login up to what follows the proof, each time in a fresh browser (another device). */
  const loginStep = async (holder: Holder, extra: Record<string, string> = {}) => {
    const flow = await h.begin(rp, extra)
    const { response } = await h.prove(flow, holder)
    assert.equal(response.status, 200, response.text)
    return { flow, step: await h.follow(flow.browser, response.body.redirect) }
  }
  const registrations = async (holder: Holder) =>
    (await server.ctx.db.selectFrom('registration').select('grant_id').where('subscriber_id', '=', holder.id).execute()).length

  it('asks the first time only, on any device, and again with prompt=consent', async () => {
    const holder = await h.subscriber()
    const first = await loginStep(holder)
    assert.match(first.step.page ?? '', /Registration Bank에 인증서를 등록하시겠습니까/)
    await h.consentIfAsked(first.flow.browser, first.step)
    assert.equal(await registrations(holder), 1)

    const second = await loginStep(holder)
    assert.ok(second.step.callback?.searchParams.get('code'), 'registered: straight back with a code, from another browser')

    const asked = await loginStep(holder, { prompt: 'consent' })
    assert.match(asked.step.page ?? '', /등록하시겠습니까/, 'prompt=consent shows the registration page again')
    await h.consentIfAsked(asked.flow.browser, asked.step)
    assert.equal(await registrations(holder), 1, 'still one registration')
    const granted = await server.ctx.db.selectFrom('audit_event').select('data').where('subscriber_id', '=', holder.id).where('type', '=', 'consent.granted').execute()
    assert.equal(granted.length, 1, 'the audit log records the registration; asking again granted nothing new')
  })

  it('returns access_denied when the subscriber declines, and registers nothing', async () => {
    const holder = await h.subscriber()
    const { flow, step } = await loginStep(holder)
    const csrf = step.page!.match(/name="csrf" value="([^"]+)"/)![1]!
    const declined = await flow.browser.post(`${step.path}/consent`).type('form').send({ csrf, decision: 'deny' }).expect(303)
    const back = await h.follow(flow.browser, declined.headers.location!)
    assert.equal(back.callback?.searchParams.get('error'), 'access_denied')
    assert.equal(await registrations(holder), 0)
    const again = await loginStep(holder)
    assert.ok(again.step.page, 'asked again next time')
  })

  it('keeps the registration when the subscriber logs out, and ends the session\'s tokens', async () => {
    const holder = await h.subscriber()
    const { tokens, browser } = await h.login(rp, holder)
    const logout = await browser.get(`/session/end?id_token_hint=${tokens.id_token}`).set('Accept', 'text/html').expect(200)
    const xsrf = logout.text.match(/name="xsrf" value="([^"]+)"/)![1]!
    await browser.post('/session/end/confirm').type('form').send({ xsrf, logout: 'yes' }).expect(303)
    await request(server.url).get('/me').set('Authorization', `Bearer ${tokens.access_token}`).expect(401)
    const again = await loginStep(holder)
    assert.ok(again.step.callback?.searchParams.get('code'), 'still registered: no registration page after the logout')
  })

  it('asks again once the registration\'s grant is gone', async () => {
    const holder = await h.subscriber()
    const first = await loginStep(holder)
    await h.consentIfAsked(first.flow.browser, first.step)
    const { grant_id } = await server.ctx.db.selectFrom('registration').select('grant_id').where('subscriber_id', '=', holder.id).executeTakeFirstOrThrow()
    await server.ctx.host.provider.Grant.adapter.destroy(grant_id)
    const again = await loginStep(holder)
    assert.ok(again.step.page, 'the registration page, not a code')
  })
})
