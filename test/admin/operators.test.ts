// Operators of the console: invited from the server's CLI, a passkey registered with the link,
// then signed in with it. What a thief or another site can do with the pieces: replay a link, a
// challenge or a form; post from another origin; keep a session of a disabled operator.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import request from 'supertest'
import { CONSOLE } from '../../src/admin/auth.ts'
import { CONSOLE_IDLE_SECONDS, Operators } from '../../src/admin/operators.ts'
import { RunningClock } from '../../src/util/clock.ts'
import { issueCertificate } from '../helpers/pki.ts'
import { enrollOperator, invitationOf, sessionCookieOf, startConsoleServer } from '../helpers/console.ts'
import type { TestServer } from '../helpers/server.ts'
import { SoftwarePasskey } from '../helpers/software-passkey.ts'

describe('operators of the console', () => {
  const clock = new RunningClock()
  let server: TestServer
  let admin: string
  let origin: string

  before(async () => {
    ({ server, admin, origin } = await startConsoleServer(clock))
  })
  after(async () => {
    await server?.close()
  })

  const post = (path: string, body: object, from = origin) => request(admin).post(path).set('Origin', from).send(body)
  const enroll = (passkey: SoftwarePasskey, invitation: string) => enrollOperator(admin, origin, passkey, invitation)

  async function signIn(passkey: SoftwarePasskey): Promise<request.Response> {
    const options = await post('/console/login/options', {}).expect(200)
    return await post('/console/login', { challengeId: options.body.challengeId, response: passkey.assert(options.body.options.challenge) })
  }

  it('invites an operator from the CLI: the link registers one passkey, once, and the passkey signs in', async () => {
    const invited = await server.ctx.operators.invite('kim.ops', CONSOLE)
    assert.ok(invited.url.startsWith(`${origin}/console/enroll#`), invited.url)
    const passkey = new SoftwarePasskey(origin, { kind: 'none' })
    const cookie = await enroll(passkey, invitationOf(invited.url))
    const dashboard = await request(admin).get('/console').set('Cookie', cookie).expect(200)
    assert.match(dashboard.text, /id="console-operator">kim\.ops</)

    // The link was spent: a second passkey (a thief holding the link) gets nothing.
    const again = await post('/console/enroll/options', { invitation: invitationOf(invited.url) })
    assert.equal(again.status, 400)
    assert.equal(again.body.error, 'invitation_invalid')

    const signedIn = await signIn(passkey)
    assert.equal(signedIn.status, 200, signedIn.text)
    await request(admin).get('/console/certificates').set('Cookie', sessionCookieOf(signedIn)).expect(200)
    const listed = (await server.ctx.operators.list()).find((o) => o.name === 'kim.ops')!
    assert.equal(listed.passkeys, 1)
    assert.equal(listed.invitation_expires_at, null)
    const types = (await server.ctx.db.selectFrom('audit_event').select('type').where('type', 'like', 'operator.%').execute()).map((r) => r.type)
    for (const type of ['operator.operator_invited', 'operator.operator_enrolled', 'operator.signed_in']) assert.ok(types.includes(type), type)
  })

  it('refuses a challenge answered twice, a passkey nobody registered, and posts from another origin', async () => {
    const passkey = new SoftwarePasskey(origin, { kind: 'none' })
    await enroll(passkey, invitationOf((await server.ctx.operators.invite('lee.ops', CONSOLE)).url))
    const options = await post('/console/login/options', {}).expect(200)
    const answer = passkey.assert(options.body.options.challenge)
    await post('/console/login', { challengeId: options.body.challengeId, response: answer }).expect(200)
    const replay = await post('/console/login', { challengeId: options.body.challengeId, response: answer })
    assert.equal(replay.status, 401)
    assert.equal(replay.body.error, 'passkey_refused')

    const stranger = new SoftwarePasskey(origin, { kind: 'none' })
    stranger.register((await server.ctx.operators.registrationOptions(invitationOf((await server.ctx.operators.invite('never.done', CONSOLE)).url))).options)
    const refused = await signIn(stranger)
    assert.equal(refused.status, 401)
    assert.equal(refused.body.error, 'passkey_refused')

    // A page of another site (or a host name rebound to this machine) cannot drive the ceremony.
    const elsewhere = await post('/console/login/options', {}, 'https://evil.example')
    assert.equal(elsewhere.status, 403)
    assert.equal(elsewhere.body.error, 'invalid_csrf_token')
    // A passkey made for another site's origin does not verify here.
    const phishing = new SoftwarePasskey('http://localhost:1', { kind: 'none' })
    const invitation = invitationOf((await server.ctx.operators.invite('phished', CONSOLE)).url)
    const phishOptions = await post('/console/enroll/options', { invitation }).expect(200)
    const phished = await post('/console/enroll', { invitation, challengeId: phishOptions.body.challengeId, response: phishing.register(phishOptions.body.options) })
    assert.equal(phished.status, 401)
    assert.equal(phished.body.error, 'passkey_refused')
  })

  it('acts only on forms from the session\'s own page: a token of another session or none is refused, and nothing changes', async () => {
    const passkey = new SoftwarePasskey(origin, { kind: 'none' })
    const cookie = await enroll(passkey, invitationOf((await server.ctx.operators.invite('park.ops', CONSOLE)).url))
    const other = sessionCookieOf(await signIn(passkey))
    const { certificate } = await issueCertificate(server.ctx.authority)
    const page = await request(admin).get(`/console/certificates/${certificate.serial}`).set('Cookie', other).expect(200)
    const otherToken = /name="csrf" value="([^"]+)"/.exec(page.text)![1]!
    const form = (csrf: string | undefined, from = origin) => request(admin).post(`/console/certificates/${certificate.serial}/suspend`)
      .set('Cookie', cookie).set('Origin', from).type('form').send({ ...(csrf ? { csrf } : {}), confirm: 'yes' })
    assert.equal((await form(otherToken)).status, 403)
    assert.equal((await form(undefined)).status, 403)
    const mine = /name="csrf" value="([^"]+)"/.exec((await request(admin).get(`/console/certificates/${certificate.serial}`).set('Cookie', cookie)).text)![1]!
    assert.equal((await form(mine, 'https://evil.example')).status, 403)
    assert.equal((await server.ctx.authority.find(certificate.serial))!.status, 'good')
    // Without the confirmation box, nothing happens either; with it, the suspension is the operator's.
    const unconfirmed = await request(admin).post(`/console/certificates/${certificate.serial}/suspend`).set('Cookie', cookie).set('Origin', origin).type('form').send({ csrf: mine })
    assert.equal(unconfirmed.status, 400)
    assert.equal((await server.ctx.authority.find(certificate.serial))!.status, 'good')
    const done = await form(mine)
    assert.equal(done.status, 303, done.text)
    assert.equal((await server.ctx.authority.find(certificate.serial))!.status, 'hold')
    const event = await server.ctx.db.selectFrom('audit_event').select('data').where('type', '=', 'certificate.suspended').where('certificate_serial', '=', certificate.serial).executeTakeFirstOrThrow()
    assert.equal((JSON.parse(event.data) as { actor: string }).actor, 'operator:park.ops')
  })

  it('ends the sessions of a disabled operator, and of one idle for 30 minutes; a page then asks for the passkey again', async () => {
    const passkey = new SoftwarePasskey(origin, { kind: 'none' })
    const cookie = await enroll(passkey, invitationOf((await server.ctx.operators.invite('choi.ops', CONSOLE)).url))
    clock.advance(CONSOLE_IDLE_SECONDS + 1)
    const idle = await request(admin).get('/console').set('Cookie', cookie)
    assert.equal(idle.status, 303)
    assert.equal(idle.headers.location, '/console/login')

    const fresh = sessionCookieOf(await signIn(passkey))
    await request(admin).get('/console').set('Cookie', fresh).expect(200)
    await server.ctx.operators.disable('choi.ops', CONSOLE)
    assert.equal((await request(admin).get('/console').set('Cookie', fresh)).status, 303)
    const refused = await signIn(passkey)
    assert.equal(refused.status, 401)
    // An action without a session is refused, not carried out after a sign-in.
    const action = await request(admin).post('/console/logout').set('Cookie', fresh).set('Origin', origin).set('Accept', 'application/json').type('form').send({ csrf: 'x' })
    assert.equal(action.status, 401)
    assert.equal(action.body.error, 'console_login_required')
    // A disabled operator cannot be invited again under the same name (their history keeps it).
    await assert.rejects(server.ctx.operators.invite('choi.ops', CONSOLE), { code: 'operator_exists' })
  })

  it('puts two people behind a bulk revocation: the operator who asked cannot approve it at the console, another one can', async () => {
    const asker = new SoftwarePasskey(origin, { kind: 'none' })
    const askerCookie = await enroll(asker, invitationOf((await server.ctx.operators.invite('han.ops', CONSOLE)).url))
    const second = new SoftwarePasskey(origin, { kind: 'none' })
    const secondCookie = await enroll(second, invitationOf((await server.ctx.operators.invite('yoon.ops', CONSOLE)).url))
    const { certificate } = await issueCertificate(server.ctx.authority)
    const asked = await server.ctx.adminDeps().approvals.request('revokeCertificates', { serials: [certificate.serial], reason: 'keyCompromise' }, { id: 'operator:han.ops', clientId: undefined })
    const tokenOf = async (cookie: string) => /name="csrf" value="([^"]+)"/.exec((await request(admin).get('/console/approvals').set('Cookie', cookie).expect(200)).text)![1]!
    const approve = async (cookie: string) => await request(admin).post(`/console/approvals/${asked.id}/approve`).set('Cookie', cookie).set('Origin', origin).type('form').send({ csrf: await tokenOf(cookie) })

    // The asker's page offers only to withdraw; a forged approval is refused all the same.
    const own = await request(admin).get('/console/approvals').set('Cookie', askerCookie)
    assert.doesNotMatch(own.text, new RegExp(`approvals/${asked.id}/approve`))
    const self = await approve(askerCookie)
    assert.equal(self.headers.location, '/console/approvals?error=refused')
    assert.equal((await server.ctx.authority.find(certificate.serial))!.status, 'good')

    const approved = await approve(secondCookie)
    assert.equal(approved.headers.location, '/console/approvals')
    assert.equal((await server.ctx.authority.find(certificate.serial))!.status, 'revoked')
    const decided = await server.ctx.adminDeps().approvals.find(asked.id)
    assert.deepEqual([decided.status, decided.requested_by, decided.decided_by], ['executed', 'operator:han.ops', 'operator:yoon.ops'])
    assert.equal((await approve(secondCookie)).headers.location, '/console/approvals?error=closed')
  })

  it('invites nobody while the console is off (ADMIN_PORT=off): the link would lead nowhere', async () => {
    const off = new Operators({ db: server.ctx.db, clock, audit: server.ctx.audit, origin: () => undefined, serviceName: 'PostCert' })
    await assert.rejects(off.invite('nobody.ops', CONSOLE), { code: 'console_off', message: /ADMIN_PORT=off/ })
    assert.ok(!(await server.ctx.operators.list()).some((o) => o.name === 'nobody.ops'))
  })

  it('limits the passkey challenges one address may ask for', async () => {
    let last: request.Response | undefined
    for (let i = 0; i < 25 && last?.status !== 429; i++) last = await post('/console/login/options', {})
    assert.equal(last!.status, 429)
    assert.equal(last!.body.error, 'too_many_attempts')
  })
})
