import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { before, describe, it } from 'node:test'
import * as jose from 'jose'
import { storageKey } from '../../src/oidc/adapter.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { BACKENDS } from '../helpers/db.ts'
import { LoginHarness } from '../login/harness.ts'
import { loginSuite } from '../helpers/suite.ts'

for (const backend of BACKENDS) {
  describe(`single use under concurrency: codes and refresh tokens (${backend})`, () => {
    let rp: Awaited<ReturnType<LoginHarness['relyingParty']>>
    const clock = new ManualClock()
    const { server, h } = loginSuite(clock, () => ({ backend }))
    before(async () => {
      rp = await h.relyingParty({ name: '경합은행', redirectUri: 'https://race.example.kr/cb', scope: 'openid offline_access' })
    })

    const token = (body: Record<string, string>) => fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${rp.clientId}:${rp.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(body),
    }).then(async (res) => ({ status: res.status, body: await res.json() as Record<string, string> }))
    const userinfo = (accessToken: string) => fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${accessToken}` } }).then((r) => r.status)

    it('of eight exchanges of one code at once, exactly one gets tokens, and the reuse revokes them', async () => {
      const holder = await h.subscriber()
      const flow = await h.begin(rp, { scope: 'openid offline_access', prompt: 'consent' })
      const { response } = await h.prove(flow, holder)
      const callback = await h.consentIfAsked(flow.browser, await h.follow(flow.browser, response.body.redirect))
      const code = callback.searchParams.get('code')!
      const answers = await Promise.all(Array.from({ length: 8 }, () => token({ grant_type: 'authorization_code', code, redirect_uri: rp.redirectUri, code_verifier: flow.verifier })))
      const won = answers.filter((a) => a.status === 200)
      assert.equal(won.length, 1, JSON.stringify(answers.map((a) => [a.status, a.body.error, a.body.error_description])))
      for (const lost of answers.filter((a) => a.status !== 200)) assert.equal(lost.body.error, 'invalid_grant')
      // A code used twice: what it gave is revoked (RFC 9700 section 4.10.1), as oidc-provider does for a later reuse.
      assert.equal(await userinfo(won[0]!.body.access_token!), 401)
      assert.equal((await token({ grant_type: 'refresh_token', refresh_token: won[0]!.body.refresh_token! })).body.error, 'invalid_grant')
    })

    it('an exchange that fails after its checks still spends the code (the consumption is held for the access token\'s write, and made when the request ends without one)', async () => {
      const holder = await h.subscriber()
      // The code is bound to one DPoP key (dpop_jkt); the exchange proves another, which
      // oidc-provider finds only after consuming the code.
      const bound = await jose.generateKeyPair('ES256')
      const other = await jose.generateKeyPair('ES256')
      const flow = await h.begin(rp, { scope: 'openid', dpop_jkt: await jose.calculateJwkThumbprint(await jose.exportJWK(bound.publicKey)) })
      const { response } = await h.prove(flow, holder)
      const callback = await h.consentIfAsked(flow.browser, await h.follow(flow.browser, response.body.redirect))
      const code = callback.searchParams.get('code')!
      const proof = await new jose.SignJWT({ htm: 'POST', htu: `${server.url}/token`, jti: randomUUID(), iat: Math.floor(Date.now() / 1000) })
        .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await jose.exportJWK(other.publicKey) }).sign(other.privateKey)
      const answer = await fetch(`${server.url}/token`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${rp.clientId}:${rp.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded', dpop: proof },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: rp.redirectUri, code_verifier: flow.verifier }),
      }).then(async (res) => ({ status: res.status, body: await res.json() as Record<string, string> }))
      assert.equal(answer.status, 400, JSON.stringify(answer.body))
      const row = await server.database.db.selectFrom('oidc_payload').select('consumed_at').where('model', '=', 'AuthorizationCode').where('id', '=', storageKey('AuthorizationCode', code)).executeTakeFirst()
      assert.ok(row?.consumed_at, 'spent')
    })

    it('of eight refreshes with one refresh token at once, exactly one gets the next one, and the reuse ends the chain', async () => {
      const holder = await h.subscriber()
      const { tokens } = await h.login(rp, holder, { scope: 'openid offline_access', prompt: 'consent' })
      const answers = await Promise.all(Array.from({ length: 8 }, () => token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! })))
      const won = answers.filter((a) => a.status === 200)
      assert.equal(won.length, 1, JSON.stringify(answers.map((a) => [a.status, a.body.error, a.body.error_description])))
      for (const lost of answers.filter((a) => a.status !== 200)) assert.equal(lost.body.error, 'invalid_grant')
      assert.equal((await token({ grant_type: 'refresh_token', refresh_token: won[0]!.body.refresh_token! })).body.error, 'invalid_grant', 'no second live chain')
      assert.equal(await userinfo(won[0]!.body.access_token!), 401)
    })

    it('of eight resumes of one login at once, exactly one goes on (the interaction is deleted as it is read), the others get a page, not a 5xx', async () => {
      const holder = await h.subscriber()
      const flow = await h.begin(rp, { scope: 'openid', prompt: 'consent' })
      const { response } = await h.prove(flow, holder)
      assert.equal(response.status, 200, response.text)
      const resume = new URL(response.body.redirect, server.url)
      assert.match(resume.pathname, /^\/auth\//, 'the proof sends the browser to the resume')
      const answers = await Promise.all(Array.from({ length: 8 }, () => flow.browser.get(resume.pathname + resume.search).redirects(0).ok(() => true)))
      const went = answers.filter((a) => a.status < 400)
      assert.equal(went.length, 1, JSON.stringify(answers.map((a) => [a.status, a.headers.location])))
      for (const lost of answers.filter((a) => a.status >= 400)) {
        assert.ok(lost.status < 500, `${lost.status}: ${lost.text.slice(0, 200)}`)
        assert.match(lost.headers['content-type'] ?? '', /text\/html/)
      }
      // The one that went on reaches the consent page and the institution, once.
      const callback = await h.consentIfAsked(flow.browser, await h.follow(flow.browser, went[0]!.headers.location!))
      assert.ok(callback.searchParams.get('code'))
    })
  })
}
