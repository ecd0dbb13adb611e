import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import * as jose from 'jose'
import * as client from 'openid-client'
import { ManualClock } from '../../src/util/clock.ts'
import { backchannelReceiver } from '../helpers/backchannel.ts'
import { LoginHarness } from './harness.ts'
import { loginSuite } from '../helpers/suite.ts'

describe('sessions: prompt, max_age, refresh, userinfo, logout (openid-client)', () => {
  let rp: Awaited<ReturnType<LoginHarness['relyingParty']>>
  const clock = new ManualClock()

  const { server, h } = loginSuite(clock)
  before(async () => {
    rp = await h.relyingParty({ name: 'Session Bank', redirectUri: 'https://rp.example.kr/cb', postLogoutRedirectUris: ['https://rp.example.kr/bye'] })
  })

  const callbackError = async (location: string) => {
    const url = new URL(location)
    return url.searchParams.get('error')
  }

  it('prompt=none: login_required when logged out, a code when logged in', async () => {
    const out = await h.authorize(rp, { prompt: 'none' })
    assert.equal(await callbackError(out.location), 'login_required')

    const holder = await h.subscriber()
    const { browser } = await h.login(rp, holder)
    const silent = await h.authorize(rp, { prompt: 'none' }, browser)
    const step = await h.follow(browser, silent.location)
    assert.ok(step.callback?.searchParams.get('code'), 'a code without any page')
    const tokens = await client.authorizationCodeGrant(rp.config, step.callback!, { pkceCodeVerifier: silent.verifier, expectedState: silent.state, expectedNonce: silent.nonce })
    assert.ok(tokens.access_token)
  })

  it('max_age=0 and prompt=login ask for a fresh proof despite the session', async () => {
    const holder = await h.subscriber()
    const { browser } = await h.login(rp, holder)
    for (const extra of [{ max_age: '0' }, { prompt: 'login' }] as Record<string, string>[]) {
      const again = await h.authorize(rp, extra, browser)
      assert.match(again.location, /^\/interaction\//, JSON.stringify(extra))
    }
  })

  it('issues a refresh token for offline_access and rotates it on use', async () => {
    const holder = await h.subscriber()
    const { tokens } = await h.login(rp, holder, { scope: 'openid offline_access', prompt: 'consent' })
    assert.ok(tokens.refresh_token)
    const refreshed = await client.refreshTokenGrant(rp.config, tokens.refresh_token!)
    assert.ok(refreshed.access_token)
    assert.ok(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token, 'rotated')
    await assert.rejects(client.refreshTokenGrant(rp.config, tokens.refresh_token!), (err: client.ResponseBodyError) => err.error === 'invalid_grant')
  })

  it('answers userinfo by GET and by POST', async () => {
    const holder = await h.subscriber()
    const { tokens } = await h.login(rp, holder)
    const sub = tokens.claims()!.sub
    assert.equal((await client.fetchUserInfo(rp.config, tokens.access_token, sub)).name, '김우정')
    const posted = await fetch(`${server.url}/me`, { method: 'POST', headers: { authorization: `Bearer ${tokens.access_token}` } })
    assert.equal(posted.status, 200)
    assert.equal(((await posted.json()) as { sub: string }).sub, sub)
  })

  it('logs out at the relying party\'s request and then needs a login again', async () => {
    const holder = await h.subscriber()
    const { tokens, browser } = await h.login(rp, holder)
    const end = client.buildEndSessionUrl(rp.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://rp.example.kr/bye', state: 'bye-state' })
    const confirm = await browser.get(end.pathname + end.search).expect(200)
    assert.match(confirm.text, /로그아웃하시겠습니까/)
    const form = confirm.text.match(/<form[^>]*action="([^"]+)"[\s\S]*?name="xsrf" value="([^"]+)"/)!
    const done = await browser.post(new URL(form[1]!).pathname).type('form').send({ xsrf: form[2]!, logout: 'yes' }).expect(303)
    assert.equal(done.headers.location, 'https://rp.example.kr/bye?state=bye-state')
    const silent = await h.authorize(rp, { prompt: 'none' }, browser)
    assert.equal(await callbackError(silent.location), 'login_required')
  })

  it('sends a signed logout token to a client that registered a back-channel logout URI', async () => {
    const receiver = await backchannelReceiver()
    try {
      const bank = await h.relyingParty({ name: 'Back-channel Bank', redirectUri: 'https://bcl.example.kr/cb', postLogoutRedirectUris: ['https://bcl.example.kr/bye'], metadata: { backchannel_logout_uri: receiver.uri } })
      const holder = await h.subscriber()
      const { tokens, browser } = await h.login(bank, holder)
      const idToken = tokens.claims()!
      assert.ok(idToken.sid, 'the ID token carries the session id')

      const end = client.buildEndSessionUrl(bank.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://bcl.example.kr/bye' })
      const confirm = await browser.get(end.pathname + end.search).expect(200)
      const form = confirm.text.match(/<form[^>]*action="([^"]+)"[\s\S]*?name="xsrf" value="([^"]+)"/)!
      await browser.post(new URL(form[1]!).pathname).type('form').send({ xsrf: form[2]!, logout: 'yes' }).expect(303)

      assert.equal(receiver.tokens.length, 1, 'one logout token')
      const jwks = jose.createRemoteJWKSet(new URL(`${server.url}/jwks`))
      const { payload, protectedHeader } = await jose.jwtVerify(receiver.tokens[0]!, jwks, { issuer: server.issuer, audience: bank.clientId, typ: 'logout+jwt' })
      assert.equal(protectedHeader.alg, jose.decodeProtectedHeader(tokens.id_token!).alg, 'signed like the client\'s ID tokens')
      assert.deepEqual(payload.events, { 'http://schemas.openid.net/event/backchannel-logout': {} })
      assert.equal(payload.sid, idToken.sid)
      assert.equal(payload.sub, idToken.sub)
      assert.equal(payload.nonce, undefined)
      assert.ok(payload.jti)
    } finally {
      await receiver.close()
    }
  })
})
