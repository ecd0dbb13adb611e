// Attacks on the operator console (the management listener's /console), each written as what the
// attacker does and what must then hold: a thief with an invitation link or a session cookie, a
// page of another site (CSRF, a host name rebound to this machine, framing), an institution whose
// metadata the console shows, an admin API client reaching for operator powers, a script hammering
// the passkey challenges, and two requests racing for one single-use value.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import http from 'node:http'
import { after, before, describe, it } from 'node:test'
import request from 'supertest'
import { createAdminApp } from '../../src/admin/app.ts'
import { CONSOLE } from '../../src/admin/auth.ts'
import { newLocalToken, tokenHash, writeLocalToken } from '../../src/admin/local-token.ts'
import { OPERATOR_NAME, operatorActor } from '../../src/admin/operators.ts'
import { serverCaller } from '../../src/cli/admin-caller.ts'
import { RunningClock } from '../../src/util/clock.ts'
import { issueCertificate } from '../helpers/pki.ts'
import { enrollOperator, invitationOf, sessionCookieOf, startConsoleServer } from '../helpers/console.ts'
import { startTestServer, tempDir, type TestServer } from '../helpers/server.ts'
import { SoftwarePasskey } from '../helpers/software-passkey.ts'

describe('attacks on the operator console', () => {
  const clock = new RunningClock()
  let server: TestServer
  let admin: string
  let origin: string
  let names = 0

  before(async () => {
    ({ server, admin, origin } = await startConsoleServer(clock))
  })
  after(async () => {
    await server?.close()
  })

  /** A new minute: the passkey challenges one address may ask for start again (20 a minute). */
  const freshWindow = () => clock.advance(61)
  const post = (path: string, body: object, from: string | null = origin) => {
    const req = request(admin).post(path)
    return (from === null ? req : req.set('Origin', from)).send(body)
  }
  const invite = async (name = `op${++names}.x`) => invitationOf((await server.ctx.operators.invite(name, CONSOLE)).url)
  const setCookies = (res: request.Response) => ([] as string[]).concat(res.headers['set-cookie'] ?? [])
  const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)![1]!

  /** A new operator, signed in: their name, passkey and session cookie. */
  async function operator(name = `op${++names}.x`): Promise<{ name: string; passkey: SoftwarePasskey; cookie: string }> {
    const passkey = new SoftwarePasskey(origin, { kind: 'none' })
    return { name, passkey, cookie: await enrollOperator(admin, origin, passkey, invitationOf((await server.ctx.operators.invite(name, CONSOLE)).url)) }
  }
  const loginOptions = async () => (await post('/console/login/options', {}).expect(200)).body as { challengeId: string; options: { challenge: string } }

  describe('markup from outside shown on the console\'s pages', () => {
    it('does not reflect the `done` query parameter of a certificate page as markup (it names a message)', async () => {
      freshWindow()
      const { cookie } = await operator()
      const { certificate } = await issueCertificate(server.ctx.authority)
      // A link (from a same-site page, or pasted) that plants a button submitting the page's own
      // revoke form, with its CSRF token and the confirmation box ticked.
      const payload = '<input form="revoke-form" type="hidden" name="confirm" value="yes"><button form="revoke-form" id="injected">Continue</button>'
      const page = await request(admin).get(`/console/certificates/${certificate.serial}?done=${encodeURIComponent(payload)}`).set('Cookie', cookie)
      assert.equal(page.status, 200)
      assert.doesNotMatch(page.text, /<button form="revoke-form" id="injected">/, 'the query parameter came back as markup')
    })

    it('escapes an institution\'s client_name and redirect URIs on the clients page', async () => {
      freshWindow()
      const { cookie } = await operator()
      await server.ctx.clients.add({
        name: '<img src=x onerror=alert(1)>"\'', redirectUris: ['https://bank.example/cb?a="><svg onload=alert(2)>'],
      })
      const page = await request(admin).get('/console/clients').set('Cookie', cookie).expect(200)
      assert.doesNotMatch(page.text, /<img src|<svg onload/)
      assert.match(page.text, /&lt;img src&#x3D;x onerror&#x3D;alert\(1\)&gt;&quot;&#x27;/)
      assert.match(page.text, /cb\?a&#x3D;&quot;&gt;&lt;svg onload/)
    })

    it('escapes chart labels (a refused login\'s reason, a revocation reason) in the dashboard\'s SVG', async () => {
      freshWindow()
      const { cookie } = await operator()
      server.ctx.tally.count('login_failure', '</title><script>alert(1)</script>')
      await server.ctx.audit.record(server.ctx.db, { type: 'certificate.revoked', data: { reason: '"><foreignObject><img src=x onerror=alert(2)>' } })
      const page = await request(admin).get('/console').set('Cookie', cookie).expect(200)
      assert.doesNotMatch(page.text, /<script>alert|<foreignObject|<img src=x/)
      assert.match(page.text, /&lt;\/title&gt;&lt;script&gt;/)
      assert.match(page.text, /revoked:&quot;&gt;&lt;foreignObject&gt;/)
    })

    it('escapes audit event data and dual-control parameters', async () => {
      freshWindow()
      const { cookie } = await operator()
      await server.ctx.audit.record(server.ctx.db, { type: 'operator.client_added', data: { actor: '<b id=actor>x</b>', client_id: '"><img src=x onerror=alert(1)>' } })
      const audit = await request(admin).get('/console/audit').set('Cookie', cookie).expect(200)
      assert.doesNotMatch(audit.text, /<b id=actor>|<img src=x/)
      await server.ctx.db.insertInto('operator_approval').values({
        id: 'apr_markup', action: '<i id=action>', params: JSON.stringify({ subscriber: '</code><img src=x onerror=alert(3)>' }), status: 'pending',
        requested_by: '<u id=who>', requested_at: clock.now(), expires_at: new Date(clock.now().getTime() + 3600_000), decided_by: null, decided_at: null, result: null,
      }).execute()
      const approvals = await request(admin).get('/console/approvals').set('Cookie', cookie).expect(200)
      assert.doesNotMatch(approvals.text, /<i id=action>|<u id=who>|<img src=x/)
      await server.ctx.db.deleteFrom('operator_approval').where('id', '=', 'apr_markup').execute()
    })
  })

  describe('another site, a rebound host name, a frame', () => {
    it('refuses the JSON ceremonies and the forms from any origin but the console\'s, a rebound Host included', async () => {
      freshWindow()
      const { cookie } = await operator()
      const port = new URL(admin).port
      // DNS rebinding: evil.example resolves to 127.0.0.1; its page posts to "its own" origin.
      const rebound = await request(admin).post('/console/login/options').set('Host', `evil.example:${port}`).set('Origin', `http://evil.example:${port}`).send({})
      assert.equal(rebound.status, 403)
      assert.equal(rebound.body.error, 'invalid_csrf_token')
      for (const from of [null, 'null', `http://127.0.0.1:${port}`, `${origin}.evil.example`, origin.replace('http:', 'https:')]) {
        const res = await post('/console/login/options', {}, from)
        assert.equal(res.status, 403, `Origin ${from}`)
      }
      // With the session cookie (a same-site page's form) and a valid token, but another origin.
      const token = csrfOf((await request(admin).get('/console').set('Cookie', cookie).expect(200)).text)
      const logout = await request(admin).post('/console/logout').set('Cookie', cookie).set('Origin', `http://localhost:${Number(port) + 1}`).type('form').send({ csrf: token })
      assert.equal(logout.status, 403)
      await request(admin).get('/console').set('Cookie', cookie).expect(200)
      // A rebound host name gets the pages' shell, never a session (the browser's cookie is for localhost).
      const shell = await request(admin).get('/console').set('Host', `evil.example:${port}`)
      assert.equal(shell.status, 303)
      assert.equal(shell.headers.location, '/console/login')
    })

    it('cannot be framed: every console page forbids it', async () => {
      freshWindow()
      const { cookie } = await operator()
      for (const res of [await request(admin).get('/console/login'), await request(admin).get('/console/enroll'), await request(admin).get('/console').set('Cookie', cookie)]) {
        assert.equal(res.headers['x-frame-options'], 'DENY')
        assert.match(res.headers['content-security-policy']!, /frame-ancestors 'none'/)
        assert.match(res.headers['content-security-policy']!, /script-src 'self'/)
      }
    })

    it('redirects only within the console (no open redirect through the serial search)', async () => {
      freshWindow()
      const { cookie } = await operator()
      for (const serial of ['//evil.example/x', '/\\evil.example', 'https://evil.example', '%2F%2Fevil.example']) {
        const res = await request(admin).get('/console/certificates').query({ serial }).set('Cookie', cookie)
        assert.equal(res.status, 303)
        assert.match(res.headers.location!, /^\/console\/certificates\/[^/\\]+$/, res.headers.location)
      }
    })
  })

  describe('a thief with an invitation link', () => {
    it('two registrations racing with one invitation: one passkey, one session', async () => {
      freshWindow()
      const name = `op${++names}.x`
      const invitation = invitationOf((await server.ctx.operators.invite(name, CONSOLE)).url)
      const [first, second] = await Promise.all([post('/console/enroll/options', { invitation }).expect(200), post('/console/enroll/options', { invitation }).expect(200)])
      const [a, b] = [new SoftwarePasskey(origin, { kind: 'none' }), new SoftwarePasskey(origin, { kind: 'none' })]
      const results = await Promise.all([
        post('/console/enroll', { invitation, challengeId: first.body.challengeId, response: a.register(first.body.options) }),
        post('/console/enroll', { invitation, challengeId: second.body.challengeId, response: b.register(second.body.options) }),
      ])
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 400], results.map((r) => r.text).join(' | '))
      assert.equal((await server.ctx.operators.list()).find((o) => o.name === name)!.passkeys, 1)
    })

    it('refuses a passkey without user verification, a challenge of another invitation or of a sign-in, and a disabled operator\'s link', async () => {
      freshWindow()
      const invitation = await invite()
      const rogue = new SoftwarePasskey(origin, { kind: 'none' })
      const noUv = await post('/console/enroll/options', { invitation }).expect(200)
      const refused = await post('/console/enroll', { invitation, challengeId: noUv.body.challengeId, response: rogue.register(noUv.body.options, { flags: 0x41, counter: 0 }) })
      assert.equal(refused.status, 401)
      assert.equal(refused.body.error, 'passkey_refused')

      const other = await post('/console/enroll/options', { invitation: await invite() }).expect(200)
      const crossed = await post('/console/enroll', { invitation, challengeId: other.body.challengeId, response: rogue.register(other.body.options, { counter: 0 }) })
      assert.equal(crossed.status, 401)
      const signIn = await loginOptions()
      const asSignIn = await post('/console/enroll', { invitation, challengeId: signIn.challengeId, response: rogue.register({ ...noUv.body.options, challenge: signIn.options.challenge }, { counter: 0 }) })
      assert.equal(asSignIn.status, 401)

      const name = `op${++names}.x`
      const doomed = invitationOf((await server.ctx.operators.invite(name, CONSOLE)).url)
      const options = await post('/console/enroll/options', { invitation: doomed }).expect(200)
      await server.ctx.operators.disable(name, CONSOLE)
      const late = await post('/console/enroll', { invitation: doomed, challengeId: options.body.challengeId, response: rogue.register(options.body.options, { counter: 0 }) })
      assert.equal(late.status, 400)
      assert.equal(late.body.error, 'invitation_invalid')
      assert.equal((await server.ctx.operators.list()).find((o) => o.name === name)!.passkeys, 0)
    })

    it('cannot take over another operator\'s passkey by registering its credential id', async () => {
      freshWindow()
      const victim = new SoftwarePasskey(origin, { kind: 'none' })
      const invitation = await invite()
      const options = await post('/console/enroll/options', { invitation }).expect(200)
      await post('/console/enroll', { invitation, challengeId: options.body.challengeId, response: victim.register(options.body.options, { counter: 0 }) }).expect(200)
      // A thief with another invitation registers a key of their own under the victim's (public) credential id.
      const thief = new SoftwarePasskey(origin, { kind: 'none' })
      const thiefInvitation = await invite()
      const thiefOptions = await post('/console/enroll/options', { invitation: thiefInvitation }).expect(200)
      const stolen = await post('/console/enroll', { invitation: thiefInvitation, challengeId: thiefOptions.body.challengeId, response: thief.register(thiefOptions.body.options, { counter: 0, id: victim.id }) })
      assert.equal(stolen.status, 401, stolen.text)
      assert.equal(stolen.body.error, 'passkey_refused')
      assert.equal(setCookies(stolen).length, 0)
      assert.doesNotMatch(stolen.text, /duplicate|violates|operator_passkey|constraint|at .*\.ts/i)
      // The victim's passkey still signs the victim in; the thief's key signs nobody in.
      const again = await loginOptions()
      const victimIn = await post('/console/login', { challengeId: again.challengeId, response: victim.assert(again.options.challenge, { origin, counter: 1 }) })
      assert.equal(victimIn.status, 200, victimIn.text)
      const thiefTry = await loginOptions()
      assert.equal((await post('/console/login', { challengeId: thiefTry.challengeId, response: thief.assert(thiefTry.options.challenge, { origin, counter: 2 }) })).status, 401)
    })
  })

  describe('sign-in', () => {
    it('two sign-ins racing with one challenge: one session', async () => {
      freshWindow()
      const { passkey } = await operator()
      const { challengeId, options } = await loginOptions()
      const answer = passkey.assert(options.challenge)
      const results = await Promise.all(Array.from({ length: 6 }, () => post('/console/login', { challengeId, response: answer })))
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 401, 401, 401, 401, 401])
    })

    it('refuses an assertion made on the public site (same RP ID, another origin), one without user verification, and a clone\'s stale counter', async () => {
      freshWindow()
      const passkey = new SoftwarePasskey(origin, { kind: 'none' })
      const invitation = await invite()
      const options = await post('/console/enroll/options', { invitation }).expect(200)
      await post('/console/enroll', { invitation, challengeId: options.body.challengeId, response: passkey.register(options.body.options, { counter: 0 }) }).expect(200)
      const publicOrigin = new URL(server.issuer).origin
      assert.notEqual(publicOrigin, origin)
      assert.equal(new URL(publicOrigin).hostname, new URL(origin).hostname)
      const tryWith = async (o: { origin: string; counter: number; flags?: number }) => {
        const { challengeId, options: opts } = await loginOptions()
        return await post('/console/login', { challengeId, response: passkey.assert(opts.challenge, o) })
      }
      assert.equal((await tryWith({ origin: publicOrigin, counter: 1 })).status, 401)
      assert.equal((await tryWith({ origin, counter: 2, flags: 0x01 })).status, 401)
      assert.equal((await tryWith({ origin, counter: 10 })).status, 200)
      const clone = await tryWith({ origin, counter: 5 })
      assert.equal(clone.status, 401)
      // Two answers with the same counter at once (a clone racing the original): one gets through.
      const [first, second] = await Promise.all([loginOptions(), loginOptions()])
      const raced = await Promise.all([first, second].map(async (o) => await post('/console/login', { challengeId: o.challengeId, response: passkey.assert(o.options.challenge, { origin, counter: 20 }) })))
      assert.deepEqual(raced.map((r) => r.status).sort(), [200, 401])
      assert.equal(clone.body.error, 'passkey_refused')
    })

    it('does not adopt a session id the attacker chose (fixation), and each sign-in gets a new one', async () => {
      freshWindow()
      const { passkey, cookie: first } = await operator()
      const planted = `postcert_console=${randomBytes(32).toString('base64url')}`
      const { challengeId, options } = await loginOptions()
      const signedIn = await post('/console/login', { challengeId, response: passkey.assert(options.challenge) }).set('Cookie', planted).expect(200)
      const issued = sessionCookieOf(signedIn)
      assert.notEqual(issued, planted)
      assert.notEqual(issued, first)
      assert.equal((await request(admin).get('/console').set('Cookie', planted)).status, 303)
      await request(admin).get('/console').set('Cookie', issued).expect(200)
    })

    it('sets the session cookie HttpOnly, SameSite=Strict, host-only, for the whole console', async () => {
      freshWindow()
      const { passkey } = await operator()
      const { challengeId, options } = await loginOptions()
      const res = await post('/console/login', { challengeId, response: passkey.assert(options.challenge) }).expect(200)
      const session = setCookies(res).find((c) => c.startsWith('postcert_console='))!
      assert.match(session, /; httponly/i)
      assert.match(session, /; samesite=strict/i)
      assert.match(session, /; path=\//i)
      assert.doesNotMatch(session, /; domain=/i)
    })

    it('keeps the language cookie to the two languages: no header injection, no planted value', async () => {
      const login = await request(admin).get('/console/login?ui_locales=en')
      assert.ok(setCookies(login).some((c) => /^postcert_console_lang=en;/.test(c)))
      for (const asked of ['en%0d%0aSet-Cookie:%20postcert_console=x', 'en fr', 'EN', 'en-US', '<script>']) {
        const res = await request(admin).get(`/console/login?ui_locales=${asked}`)
        assert.equal(res.status, 200)
        assert.ok(!setCookies(res).some((c) => c.startsWith('postcert_console')), `${asked}: ${setCookies(res).join(' | ')}`)
      }
      const planted = await request(admin).get('/console/login').set('Cookie', 'postcert_console_lang="><script>alert(1)</script>').set('Accept-Language', 'ko')
      assert.match(planted.text, /<html lang="ko">/)
      assert.doesNotMatch(planted.text, /<script>alert/)
    })
  })

  describe('a stolen cookie kept busy, a challenge kept for later', () => {
    it('ends a session 8 hours after its sign-in however busy it is, and refuses a challenge answered after 5 minutes', async () => {
      freshWindow()
      const { passkey, cookie } = await operator()
      const late = await loginOptions()
      clock.advance(5 * 60 + 1)
      assert.equal((await post('/console/login', { challengeId: late.challengeId, response: passkey.assert(late.options.challenge) })).status, 401)
      // The thief reloads a page every 20 minutes: never idle, but the session is no older than 8 hours.
      for (let minutes = 5; minutes < 8 * 60 - 20; minutes += 20) {
        clock.advance(20 * 60)
        assert.equal((await request(admin).get('/console/clients').set('Cookie', cookie)).status, 200, `after ${minutes + 20} minutes`)
      }
      // 7 h 45 min so far; 20 minutes more (not idle) passes the 8 hours.
      clock.advance(20 * 60)
      assert.equal((await request(admin).get('/console/clients').set('Cookie', cookie)).status, 303)
    })
  })

  describe('a script hammering the challenges', () => {
    it('gets at most 20 challenges a minute from one address, however fast and whatever X-Forwarded-For says', async () => {
      freshWindow()
      const before = Number((await server.ctx.db.selectFrom('operator_challenge').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)
      const results = await Promise.all(Array.from({ length: 60 }, (_, i) =>
        request(admin).post('/console/login/options').set('Origin', origin).set('X-Forwarded-For', `203.0.113.${i}`).set('X-Real-IP', `198.51.100.${i}`).send({})))
      const allowed = results.filter((r) => r.status === 200).length
      assert.equal(allowed, 20)
      assert.ok(results.every((r) => r.status === 200 || (r.status === 429 && r.body.error === 'too_many_attempts')))
      const rows = Number((await server.ctx.db.selectFrom('operator_challenge').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n)
      assert.equal(rows - before, 20)
      // Once the minute is over, the address may ask again.
      freshWindow()
      await post('/console/login/options', {}).expect(200)
    })
  })

  describe('escalation: a stolen cookie, an admin API client, dual control', () => {
    it('a stolen session cookie is an operator, not the server\'s console: it cannot invite or disable operators, and dies at sign-out', async () => {
      freshWindow()
      const { name, cookie } = await operator()
      const stolen = cookie
      // The admin API takes no cookie; the console has no route for it.
      assert.equal((await request(admin).post('/operators').set('Cookie', stolen).set('Origin', origin).send({ name: 'thief.ops' })).status, 401)
      assert.equal((await request(admin).post('/console/operators').set('Cookie', stolen).set('Origin', origin).type('form').send({ name: 'thief.ops' })).status, 405)
      assert.equal((await request(admin).post(`/console/operators/${name}/disable`).set('Cookie', stolen).set('Origin', origin).type('form').send({})).status, 404)
      assert.ok(!(await server.ctx.operators.list()).some((o) => o.name === 'thief.ops'))
      // The operator signs out on their own machine: the thief's copy ends with it.
      const token = csrfOf((await request(admin).get('/console').set('Cookie', cookie).expect(200)).text)
      await request(admin).post('/console/logout').set('Cookie', cookie).set('Origin', origin).type('form').send({ csrf: token }).expect(303)
      assert.equal((await request(admin).get('/console').set('Cookie', stolen)).status, 303)
    })

    it('an admin API client cannot invite or disable operators, and its token is no console session', async () => {
      freshWindow()
      const { name } = await operator(`op${++names}`)
      const bot = await server.ctx.clients.add({ name: 'ops bot', admin: true })
      const token = await request(server.url).post('/token').auth(bot.client_id, bot.client_secret as string).type('form').send({ grant_type: 'client_credentials', scope: 'admin' })
      assert.equal(token.status, 200, token.text)
      const bearer = `Bearer ${token.body.access_token as string}`
      const invited = await request(admin).post('/operators').set('Authorization', bearer).send({ name: 'bot.ops' })
      assert.equal(invited.status, 403)
      assert.equal(invited.body.error, 'console_only')
      const disabled = await request(admin).post(`/operators/${name}/disable`).set('Authorization', bearer).send({})
      assert.equal(disabled.status, 403)
      assert.equal((await server.ctx.operators.list()).find((o) => o.name === name)!.disabled_at, null)
      assert.equal((await request(admin).get('/console').set('Authorization', bearer)).status, 303)
      assert.equal((await request(admin).get('/console').set('Cookie', `postcert_console=${token.body.access_token as string}`)).status, 303)
    })

    it('the operator who asked cannot approve a run left stale by a crash either', async () => {
      freshWindow()
      const asker = await operator()
      const { certificate } = await issueCertificate(server.ctx.authority)
      const approvals = server.ctx.adminDeps().approvals
      const asked = await approvals.request('revokeCertificates', { serials: [certificate.serial], reason: 'keyCompromise' }, operatorActor(asker.name))
      // Another operator approved it, then the process died mid-run, eleven minutes ago.
      await server.ctx.db.updateTable('operator_approval').set({ status: 'executing', decided_by: 'operator:someone.else', decided_at: new Date(clock.now().getTime() - 11 * 60_000) })
        .where('id', '=', asked.id).execute()
      const token = csrfOf((await request(admin).get('/console/approvals').set('Cookie', asker.cookie).expect(200)).text)
      const res = await request(admin).post(`/console/approvals/${asked.id}/approve`).set('Cookie', asker.cookie).set('Origin', origin).type('form').send({ csrf: token })
      assert.equal(res.headers.location, '/console/approvals?error=refused')
      assert.equal((await server.ctx.authority.find(certificate.serial))!.status, 'good')
      assert.equal((await approvals.find(asked.id)).decided_by, 'operator:someone.else')
    })
  })

  describe('error answers', () => {
    it('shows nothing of the server in an error page (a query parameter given twice, an unknown serial)', async () => {
      freshWindow()
      const { cookie } = await operator()
      for (const query of ['certificates?subscriber=a&subscriber=b', 'certificates?serial=1&serial=2', 'certificates/00ff', 'certificates/zz', 'audit?before=x']) {
        const res = await request(admin).get(`/console/${query}`).set('Cookie', cookie).set('Accept', 'text/html')
        assert.ok(res.status < 500, `${query}: ${res.status}`)
        assert.doesNotMatch(res.text, /TypeError|is not a function|at .*\.ts:\d+|node_modules|select .* from/i, query)
      }
    })
  })

  describe('the server\'s own CLI', () => {
    it('disables an operator whose name has a dot (kim.ops) through the running server, as `postcert operators disable` does', async () => {
      freshWindow()
      const { name, passkey, cookie } = await operator('kim.ops')
      // The listener the server starts with a local token (serve.ts), and the CLI's caller for it.
      const token = newLocalToken()
      const app = createAdminApp({
        ...server.ctx.adminDeps(), localTokenHash: tokenHash(token), logger: server.ctx.logger, metrics: server.ctx.metrics, views: server.ctx.views,
        version: 'test', csrf: server.ctx.csrf, tally: server.ctx.tally, assets: { publicDir: 'public', bundles: new Map() },
      })
      const listener = http.createServer(app.callback() as http.RequestListener)
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve))
      const dataDir = tempDir()
      const remove = writeLocalToken(dataDir, { url: `http://127.0.0.1:${(listener.address() as { port: number }).port}`, token })
      try {
        const cli = (await serverCaller(dataDir))!
        assert.equal(cli.via, 'server')
        // The name the admin API itself accepted when it invited them.
        assert.match(name, OPERATOR_NAME)
        const failure = await cli.call('disableOperator', { params: { name } }).then(() => undefined, (err: unknown) => (err as Error).message)
        assert.equal(failure, undefined, `postcert operators disable ${name} answered: ${failure}`)
        assert.equal((await request(admin).get('/console').set('Cookie', cookie)).status, 303)
        const { challengeId, options } = await loginOptions()
        assert.equal((await post('/console/login', { challengeId, response: passkey.assert(options.challenge) })).status, 401)
      } finally {
        remove()
        await new Promise((resolve) => listener.close(resolve))
      }
    })
  })
})

describe('the console behind TLS (ADMIN_URL https)', () => {
  let server: TestServer

  before(async () => {
    server = await startTestServer({ hostname: 'localhost', env: { ADMIN_PORT: '0', ADMIN_URL: 'https://console.example' } })
  })
  after(async () => {
    await server?.close()
  })

  it('names the session cookie __Host- and marks it Secure', async () => {
    const origin = 'https://console.example'
    const passkey = new SoftwarePasskey(origin, { kind: 'none' })
    const invited = await server.ctx.operators.invite('tls.ops', CONSOLE)
    assert.ok(invited.url.startsWith(`${origin}/console/enroll#`))
    const invitation = new URL(invited.url).hash.slice(1)
    const options = await request(server.adminUrl!).post('/console/enroll/options').set('Origin', origin).send({ invitation }).expect(200)
    const done = await request(server.adminUrl!).post('/console/enroll').set('Origin', origin)
      .send({ invitation, challengeId: options.body.challengeId, response: passkey.register(options.body.options) })
    assert.equal(done.status, 200, done.text)
    const session = ([] as string[]).concat(done.headers['set-cookie'] ?? []).find((c) => c.startsWith('__Host-postcert_console='))
    assert.ok(session, String(done.headers['set-cookie']))
    assert.match(session, /; secure/i)
    assert.match(session, /; path=\/;/i)
    assert.doesNotMatch(session, /; domain=/i)
    assert.match(session, /; httponly/i)
    // A cookie without the prefix (planted over plain http) is not read.
    const value = session.split(';')[0]!.split('=')[1]!
    assert.equal((await request(server.adminUrl!).get('/console').set('Cookie', `postcert_console=${value}`)).status, 303)
    await request(server.adminUrl!).get('/console').set('Cookie', `__Host-postcert_console=${value}`).expect(200)
  })
})
