import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CookieAccessInfo } from 'cookiejar'
import { sql } from 'kysely'
import request from 'supertest'
import { connectDatabase } from '../../src/db/connect.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { signInToPortal } from '../account/helpers.ts'
import { backchannelReceiver, type BackchannelReceiver } from '../helpers/backchannel.ts'
import { NEEDS_POSTGRES } from '../helpers/db.ts'
import { signChallenge, subscriberKey } from '../helpers/pki.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { LoginHarness, type Holder } from './harness.ts'
import { findRegisteredGrant } from '../../src/registrations/registered-grant.ts'
import { loginSuite } from '../helpers/suite.ts'

const DAY = 86_400

/** The cookies a supertest agent holds, as a browser would send them to another instance of the same issuer. */
const cookieHeader = (agent: request.Agent) =>
  ((agent as unknown as { jar: { getCookies(a: unknown): { toValueString(): string }[] } }).jar.getCookies(CookieAccessInfo.All))
    .map((c) => c.toValueString()).join('; ')

/**
 * How each change is made, on instance A. `setup` runs before the login (moving the clock where
 * the change can happen), `change` makes it; both get the subscriber's certificate.
 */
const CHANGES: Record<string, {
  setup?: (clock: ManualClock) => void
  /** Makes the change on instance A; a renewal returns the successor certificate's holder. */
  change: (a: TestServer, holder: Holder, clock: ManualClock) => Promise<Holder | void>
}> = {
  revoke: { change: async (a, holder) => { await a.ctx.authority.revoke(holder.certificate.serial, 'keyCompromise') } },
  // Lifting the suspension restores nothing: the checks below run after it.
  suspend: {
    change: async (a, holder) => {
      await a.ctx.authority.suspend(holder.certificate.serial)
      await a.ctx.authority.resume(holder.certificate.serial)
    },
  },
  expiry: {
    // The login a minute before the certificate expires; the change is two minutes passing.
    setup: (clock) => clock.advance(365 * DAY - 60),
    change: async (a, _holder, clock) => {
      clock.advance(120)
      assert.equal(await a.ctx.certificateLogins.endExpired(), 1, 'the background job finds the expired certificate')
    },
  },
  renewal: {
    setup: (clock) => clock.advance(340 * DAY),
    // The new certificate logs in directly: no registration page again.
    change: async (a, holder) => {
      const key = subscriberKey()
      const certificate = await a.ctx.authority.renew({ serial: holder.certificate.serial, spki: key.spki, proof: signChallenge(key, await a.ctx.authority.createChallenge()) })
      return { ...holder, certificate, key }
    },
  },
}

for (const topology of ['one instance', 'two instances'] as const) {
  describe(`a certificate's status governs what its logins opened (${topology})`, { skip: topology === 'two instances' && NEEDS_POSTGRES }, () => {
    for (const [name, { setup, change }] of Object.entries(CHANGES)) {
      describe(name, () => {
        let a: TestServer
        let b: TestServer
        let h: LoginHarness
        let receiver: BackchannelReceiver
        const clock = new ManualClock()

        before(async () => {
          receiver = await backchannelReceiver()
          a = await startTestServer({ overrides: { clock } })
          // The second instance: its own connections to the same database, the same issuer and keys.
          b = topology === 'one instance' ? a : await startTestServer({
            database: { ...a.database, db: connectDatabase({ kind: 'postgres', url: a.database.url! }), dropData: async () => {} },
            masterKey: a.masterKey, env: { PUBLIC_URL: a.issuer }, overrides: { clock },
          })
          h = new LoginHarness(a, clock)
        })
        after(async () => {
          if (b !== a) await b.close()
          await a.close()
          await receiver.close()
        })

        it('refresh invalid_grant, earlier access tokens 401 at userinfo and inactive at introspection, an unredeemed code refused, /auth asks for the certificate, the portal session ended, the institution told by back-channel logout', async () => {
          const holder = await h.subscriber()
          setup?.(clock)
          const rp = await h.relyingParty({ name: '상태은행', redirectUri: 'https://status.example.kr/cb', scope: 'openid offline_access profile', metadata: { backchannel_logout_uri: receiver.uri } })
          const { tokens, browser } = await h.login(rp, holder, { scope: 'openid offline_access profile', prompt: 'consent' })
          const idToken = tokens.claims()!
          const portal = await signInToPortal(h, a, holder)
          // Before the change, on the other instance: the same institution's silent request gets a code at once.
          const silent = await h.authorize(rp, { prompt: 'none', scope: 'openid offline_access profile' }, browser)
          const pendingCode = await h.follow(browser, silent.location)
          assert.ok(pendingCode.callback?.searchParams.get('code'), 'a code without a page, inside the reuse window')

          const basic = `Basic ${Buffer.from(`${rp.clientId}:${rp.clientSecret}`).toString('base64')}`
          const form = (path: string, body: Record<string, string>) => fetch(`${b.url}${path}`, {
            method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body),
          })
          const userinfo = () => fetch(`${b.url}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } })
          assert.equal((await userinfo()).status, 200, 'userinfo works before')
          assert.equal(((await (await form('/token/introspection', { token: tokens.access_token })).json()) as { active: boolean }).active, true)

          const successor = await change(a, holder, clock)

          const refreshed = await form('/token', { grant_type: 'refresh_token', refresh_token: tokens.refresh_token! })
          assert.equal(refreshed.status, 400)
          assert.equal(((await refreshed.json()) as { error: string }).error, 'invalid_grant')
          assert.equal((await userinfo()).status, 401)
          for (const token of [tokens.access_token, tokens.refresh_token!]) {
            assert.equal(((await (await form('/token/introspection', { token })).json()) as { active: boolean }).active, false)
          }
          const exchanged = await form('/token', { grant_type: 'authorization_code', code: pendingCode.callback!.searchParams.get('code')!, redirect_uri: rp.redirectUri, code_verifier: silent.verifier })
          assert.equal(((await exchanged.json()) as { error: string }).error, 'invalid_grant', 'a code issued before is refused')

          // The same browser on the other instance: the login page, or login_required without one.
          const auth = async (extra: Record<string, string>) => {
            const started = await h.authorize(rp, { scope: 'openid offline_access profile', ...extra }, request.agent(b.url).set('cookie', cookieHeader(browser)))
            return started.location
          }
          assert.match(await auth({}), /^\/interaction\//, 'the login page')
          assert.equal(new URL(await auth({ prompt: 'none' })).searchParams.get('error'), 'login_required')

          const account = await fetch(`${b.url}/account`, { headers: { cookie: cookieHeader(portal.browser) }, redirect: 'manual' })
          assert.equal(account.status, 303)
          assert.match(account.headers.get('location')!, /^\/auth\?client_id=postcert-account/, 'the portal asks for the certificate again')

          const logouts = await receiver.verified(a.issuer, `${a.url}/jwks`, rp.clientId)
          assert.equal(logouts.length, 1, 'one logout token for the one session')
          assert.equal(logouts[0]!.sub, idToken.sub)
          assert.equal(logouts[0]!.sid, idToken.sid)
          assert.equal(await a.ctx.db.selectFrom('logout_notice').select('id').executeTakeFirst(), undefined, 'delivered: none left in the outbox')

          // A new proof is what it takes now: with the certificate again (resumed), or its successor.
          if (name === 'suspend' || successor) {
            const flow = await h.begin(rp, { scope: 'openid offline_access profile' }, browser)
            const { response } = await h.prove(flow, successor ?? holder)
            assert.equal(response.status, 200, response.text)
            const step = await h.follow(browser, response.body.redirect)
            assert.ok(step.callback?.searchParams.get('code'), 'straight back with a code: still registered there')
          }
        })
      })
    }
  })
}

describe('status changes: a certificate with a great many logins, and requests in flight', () => {
  const clock = new ManualClock()
  const { server, h } = loginSuite(clock)

  it('revokes a certificate that logged in 11,000 times (a thief\'s script): every login ends, every logout is owed', async () => {
    const holder = await h.subscriber()
    const serial = holder.certificate.serial
    const count = 11_000
    const expires = new Date(clock.now().getTime() + DAY * 1000)
    // As that many logins leave them: a login_session row and a session naming its sid at an institution.
    await sql`insert into login_session (session_uid, auth_time, certificate_serial, client_id, expires_at)
      select 'bulk-' || g, 1764000000, ${serial}, 'bulk-bank', ${expires} from generate_series(1, ${count}) g`.execute(server.ctx.db)
    await sql`insert into oidc_payload (model, id, payload, uid, expires_at, certificate_serial)
      select 'Session', 'bulk-' || g, json_build_object('uid', 'bulk-' || g, 'accountId', ${holder.id}::text, 'loginTs', 1764000000,
        'authorizations', json_build_object('bulk-bank', json_build_object('sid', 'sid-' || g)))::text, 'bulk-' || g, ${expires}, ${serial}
      from generate_series(1, ${count}) g`.execute(server.ctx.db)
    await server.ctx.authority.revoke(serial, 'keyCompromise')
    const left = await server.ctx.db.selectFrom('oidc_payload').select(sql<number>`count(*)`.as('n')).where('certificate_serial', '=', serial).executeTakeFirstOrThrow()
    assert.equal(Number(left.n), 0, 'every session gone')
    const open = await server.ctx.db.selectFrom('login_session').select(sql<number>`count(*)`.as('n')).where('certificate_serial', '=', serial).where('ended_at', 'is', null).executeTakeFirstOrThrow()
    assert.equal(Number(open.n), 0, 'every login ended')
    // 'bulk-bank' is no client: the first batch is dropped at delivery, the rest wait for the background job.
    const owed = await server.ctx.db.selectFrom('logout_notice').select(sql<number>`count(*)`.as('n')).where('certificate_serial', '=', serial).executeTakeFirstOrThrow()
    assert.equal(Number(owed.n), count - 100)
    // The background job works through the rest batch after batch.
    await server.ctx.logoutNotices.drain(200)
    assert.equal((await server.ctx.db.selectFrom('logout_notice').select('id').where('certificate_serial', '=', serial).execute()).length, 0)
  })

  it('a returning subscriber\'s login is remembered in the statement that reads the registration, and only while the certificate is good (#19)', async () => {
    const holder = await h.subscriber()
    const rp = await h.relyingParty({ name: '기억은행', redirectUri: 'https://remember.example.kr/cb' })
    await h.login(rp, holder)
    const deps = { db: server.ctx.db, clock, requests: server.ctx.requests }
    const { Grant } = server.ctx.host.provider
    const remembered = (sessionUid: string) => server.ctx.db.selectFrom('login_session').select('certificate_serial').where('session_uid', '=', sessionUid).executeTakeFirst()
    const good = await findRegisteredGrant(deps, Grant, holder.id, rp.clientId, server.ctx.loginSessions.rememberStatement({ sessionUid: 'remember-good', authTime: 1 }, holder.certificate.serial, rp.clientId))
    assert.equal(good.firstReturned, true)
    assert.equal(good.grant?.accountId, holder.id, 'the registration\'s grant, read with it')
    assert.equal((await remembered('remember-good'))?.certificate_serial, holder.certificate.serial)
    // Revoked between the proof and the resume: nothing is remembered, and the caller refuses the login.
    await server.ctx.authority.revoke(holder.certificate.serial, 'keyCompromise')
    const revoked = await findRegisteredGrant(deps, Grant, holder.id, rp.clientId, server.ctx.loginSessions.rememberStatement({ sessionUid: 'remember-revoked', authTime: 1 }, holder.certificate.serial, rp.clientId))
    assert.equal(revoked.firstReturned, false)
    assert.equal(await remembered('remember-revoked'), undefined)
    // Without a write first, the same read.
    assert.equal((await findRegisteredGrant(deps, Grant, holder.id, rp.clientId)).firstReturned, true)
  })

  it('lifting a suspension restores nothing, not even a login a request in flight finished meanwhile', async () => {
    const holder = await h.subscriber()
    const rp = await h.relyingParty({ name: '비행은행', redirectUri: 'https://inflight.example.kr/cb' })
    const flow = await h.begin(rp)
    assert.equal((await h.prove(flow, holder)).response.status, 200)
    await server.ctx.authority.suspend(holder.certificate.serial)
    // What a request that had read the interaction before the suspension writes after it: its login result.
    const interaction = await server.ctx.host.provider.Interaction.find(flow.uid)
    assert.equal(interaction, undefined, 'the suspension ended the finished login')
    const key = 'in-flight-' + flow.uid
    await server.ctx.host.provider.Interaction.adapter.upsert(key, { jti: key, result: { login: { accountId: holder.id, certificateSerial: holder.certificate.serial } } } as never, 600)
    assert.equal(await server.ctx.host.provider.Interaction.adapter.find(key), undefined, 'refused while suspended')
    await server.ctx.authority.resume(holder.certificate.serial)
    assert.equal(await server.ctx.host.provider.Interaction.adapter.find(key), undefined, 'and gone when resumed')
  })
})
