import assert from 'node:assert/strict'
import { koreanDate } from '../../src/util/korean-time.ts'
import { generateKeyPairSync, sign } from 'node:crypto'
import { describe, it } from 'node:test'
import request from 'supertest'
import { ManualClock } from '../../src/util/clock.ts'
import { lastCode } from '../enrollment/helpers.ts'
import { issueCertificate } from '../helpers/pki.ts'
import { type Holder } from '../login/harness.ts'
import { signInToPortal } from './helpers.ts'
import { loginSuite } from '../helpers/suite.ts'

const DAY = 86_400

describe('new keys from the portal (renewal, another device): the certificate, a phone code, a new key', () => {
  const clock = new ManualClock()

  const { server, h } = loginSuite(clock)

  const signIn = (holder: Holder) => signInToPortal(h, server, holder)

  /** What the holder script does for a certificate file: a new P-256 key signs the CA challenge. */
  async function renewWithNewKey(browser: request.Agent, csrf: string, serial: string, base = `/account/certificates/${serial}/renew`) {
    const api = (path: string, body: unknown = {}) => browser.post(`${base}/${path}`).set('X-CSRF-Token', csrf).set('Content-Type', 'application/json').send(JSON.stringify(body))
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const { challenge } = (await api('challenge').expect(200)).body
    const signature = sign('sha256', Buffer.from(challenge, 'base64url'), { key: key.privateKey, dsaEncoding: 'ieee-p1363' })
    const res = await api('file', { spki: key.publicKey.export({ format: 'der', type: 'spki' }).toString('base64url'), signature: signature.toString('base64url'), challenge })
    return { res, key: { privateKey: key.privateKey, spki: key.publicKey.export({ format: 'der', type: 'spki' }) } }
  }

  it('says when renewal opens, and refuses it before then', async () => {
    const holder = await h.subscriber()
    const { browser, csrf } = await signIn(holder)
    const page = await browser.get(`/account/certificates/${holder.certificate.serial}/renew`).expect(200)
    const opensAt = new Date(holder.certificate.notAfter.getTime() - 30 * DAY * 1000)
    // The page says the day in Korea (from 15:00 UTC that is the next one); the API gives the instant in UTC.
    assert.match(page.text, new RegExp(`갱신은 ${koreanDate(opensAt)}부터 할 수 있습니다`))
    const refused = await browser.post(`/account/certificates/${holder.certificate.serial}/renew/code`).type('form').send({ csrf }).set('Accept', 'application/json').expect(409)
    assert.equal(refused.body.error, 'renewal_not_allowed')
    assert.match(refused.body.error_description, new RegExp(`opens on ${opensAt.toISOString().slice(0, 10)}`))
  })

  it('renews inside the window with a phone code: the new certificate logs in, the old one is refused', async () => {
    const holder = await h.subscriber()
    clock.advance(340 * DAY)
    try {
      const { browser, csrf } = await signIn(holder)
      const elsewhere = await signIn(holder)
      const serial = holder.certificate.serial
      const page = await browser.get(`/account/certificates/${serial}/renew`).expect(200)
      assert.match(page.text, /휴대폰 확인/)
      assert.match(page.text, /010-\*\*\*\*-0001/, 'the phone on file, masked')
      // Without the phone code, no key is taken.
      const early = await browser.post(`/account/certificates/${serial}/renew/challenge`).set('X-CSRF-Token', csrf).set('Content-Type', 'application/json').send('{}').expect(403)
      assert.equal(early.body.error, 'phone_not_verified')

      await browser.post(`/account/certificates/${serial}/renew/code`).type('form').send({ csrf }).expect(303)
      // The code's countdown and the resend's, as on the enrollment's phone step (#17).
      clock.advance(20)
      const sent = (await browser.get(`/account/certificates/${serial}/renew`).expect(200)).text
      assert.match(sent, /<p class="hint" id="code-timer" role="timer" data-until="\d\d:\d\d" data-seconds="160">/)
      assert.match(sent, /<button type="submit" class="secondary" id="resend" aria-disabled="true">[^<]*<\/button>\s*<p class="hint" id="resend-timer" data-seconds="40">40초 후에 다시 받을 수 있습니다.<\/p>/)
      assert.match(sent, /<script type="module" src="\/assets\/code-timer.js">/)
      const wrong = await browser.post(`/account/certificates/${serial}/renew/verify`).type('form').set('Accept', 'application/json').send({ csrf, code: '000000' })
      assert.equal(wrong.status, 400)
      await browser.post(`/account/certificates/${serial}/renew/verify`).type('form').send({ csrf, code: await lastCode(server, '+821000000001') }).expect(303)
      assert.match((await browser.get(`/account/certificates/${serial}/renew`).expect(200)).text, /id="file-form"[^>]*data-api="\/account\/certificates\/[0-9a-f]+\/renew"/)

      const { res, key } = await renewWithNewKey(browser, csrf, serial)
      assert.equal(res.status, 200, res.text)
      const renewed = await server.ctx.authority.find(res.body.serial)
      assert.ok(renewed)
      assert.equal(renewed.notAfter.getTime(), holder.certificate.notAfter.getTime() + 365 * DAY * 1000, 'one more period past the old expiry')
      const old = (await server.ctx.authority.find(serial))!
      assert.equal(old.status, 'revoked')
      assert.equal(old.revocationReason, 'superseded')
      assert.equal(old.replacedBy, renewed.serial)
      assert.equal(res.body.next, `/account/certificates/${renewed.serial}?issued=1`)
      // The renewing session goes on with the new certificate (its backup is offered there); the
      // old certificate's other portal sessions ended with it.
      assert.match((await browser.get(res.body.next).expect(200)).text, new RegExp(renewed.serial))
      assert.equal((await elsewhere.browser.get('/account').expect(303)).headers.location?.startsWith('/auth?'), true)

      // One phone code, one renewal.
      const again = await browser.post(`/account/certificates/${renewed.serial}/renew/challenge`).set('X-CSRF-Token', csrf).set('Content-Type', 'application/json').send('{}')
      assert.notEqual(again.status, 200)

      const rp = await h.relyingParty({ redirectUri: 'https://renew.example.kr/cb' })
      const { tokens } = await h.login(rp, { ...holder, certificate: renewed, key })
      assert.ok(tokens.claims()!.sub)
      const flow = await h.begin(rp)
      const { response } = await h.prove(flow, holder)
      assert.equal(response.status, 403)
      assert.equal(response.body.error, 'certificate_revoked')
    } finally {
      clock.advance(-340 * DAY)
    }
  })

  it('after expiry, points to a new certificate instead; refuses renewing someone else\'s', async () => {
    const holder = await h.subscriber()
    clock.advance(366 * DAY)
    try {
      // Signed in with a newer certificate of the same subscriber, looking at the expired one.
      const { certificate: newer, key } = await issueCertificate(server.ctx.authority, { subscriberId: holder.id })
      const { browser, csrf } = await signIn({ ...holder, certificate: newer, key })
      const page = await browser.get(`/account/certificates/${holder.certificate.serial}/renew`).expect(200)
      assert.match(page.text, /만료된 인증서는 갱신할 수 없습니다/)
      assert.match(page.text, /href="\/enroll"/)
      const refused = await browser.post(`/account/certificates/${holder.certificate.serial}/renew/code`).type('form').set('Accept', 'application/json').send({ csrf }).expect(409)
      assert.match(refused.body.error_description, /expired/)
      const stranger = await h.subscriber()
      await browser.get(`/account/certificates/${stranger.certificate.serial}/renew`).expect(404)
    } finally {
      clock.advance(-366 * DAY)
    }
  })

  it('adds a certificate for another device up to the cap, keeping the current one', async () => {
    const holder = await h.subscriber()
    const { browser, csrf } = await signIn(holder)
    assert.match((await browser.get('/account').expect(200)).text, /id="add-certificate"/)
    await browser.post('/account/add/code').type('form').send({ csrf }).expect(303)
    await browser.post('/account/add/verify').type('form').send({ csrf, code: await lastCode(server, '+821000000001') }).expect(303)
    const { res } = await renewWithNewKey(browser, csrf, '', '/account/add')
    assert.equal(res.status, 200, res.text)
    assert.equal((await server.ctx.authority.find(holder.certificate.serial))!.status, 'good', 'the current one stays')
    assert.equal((await server.ctx.authority.find(res.body.serial))!.status, 'good')
    // Two in use: no more.
    assert.doesNotMatch((await browser.get('/account').expect(200)).text, /id="add-certificate"/)
    assert.match((await browser.get('/account/add').expect(200)).text, /2개까지입니다/)
    const refused = await browser.post('/account/add/code').type('form').set('Accept', 'application/json').send({ csrf }).expect(409)
    assert.equal(refused.body.error, 'certificate_limit')
  })

  it('lets only one of two simultaneous additions pass the cap', async () => {
    const holder = await h.subscriber()
    const add = async () => {
      const { spki, privateKey } = (() => {
        const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
        return { spki: pair.publicKey.export({ format: 'der', type: 'spki' }), privateKey: pair.privateKey }
      })()
      const challenge = await server.ctx.authority.createChallenge()
      return await server.ctx.authority.add({
        subscriberId: holder.id, displayName: '김우정', holder: 'file', spki,
        proof: { type: 'signature', challenge, signature: sign('sha256', challenge, { key: privateKey, dsaEncoding: 'ieee-p1363' }) },
      })
    }
    const results = await Promise.allSettled([add(), add()])
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
    const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult
    assert.equal((rejected.reason as { code?: string; error?: string }).error ?? (rejected.reason as { code?: string }).code, 'certificate_limit')
    const inUse = (await server.ctx.authority.listBySubscriber(holder.id)).filter((c) => c.status === 'good')
    assert.equal(inUse.length, 2)
  })
})
