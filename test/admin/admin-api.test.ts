// The admin API on its own listener: who may call it (only an admin API client's client-credentials
// token with scope admin), its OpenAPI 3.1 document (valid, and naming every route), and every
// route called once with its answer checked against that document.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { before, describe, it } from 'node:test'
import { Validator } from '@seriousme/openapi-schema-validator'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose'
import request from 'supertest'
import { ManualClock } from '../../src/util/clock.ts'
import { ADMIN_API } from '../../src/oidc/client-policy.ts'
import { SINGLE_CHANGES_PER_HOUR } from '../../src/admin/api.ts'
import { createInitialAccessToken } from '../../src/oidc/initial-access-token.ts'
import { issueCertificate } from '../helpers/pki.ts'
import { loginSuite } from '../helpers/suite.ts'

type Operation = { operationId: string; responses: Record<string, { content?: Record<string, { schema: object }> }> }
type Document = { openapi: string; paths: Record<string, Record<string, Operation> & { servers?: unknown }>; components: { schemas: Record<string, object> } }

describe('the admin API', () => {
  const clock = new ManualClock()
  const { server, h } = loginSuite(clock, () => ({ env: { ADMIN_PORT: '0' } }))
  let admin: string
  let document: Document
  let token: string
  let adminClientId: string
  let adminSecret: string
  const called = new Set<string>()
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  addFormats.default(ajv)

  /** A client-credentials token from the public token endpoint. */
  async function clientToken(clientId: string, secret: string, scope?: string): Promise<request.Response> {
    return await request(server.url).post('/token').auth(clientId, secret).type('form').send({ grant_type: 'client_credentials', ...(scope ? { scope } : {}) })
  }

  /** Calls an admin route and checks the answer against the document's schema for that status. */
  async function call(method: 'get' | 'post' | 'delete', path: string, options: { body?: object; expect?: number; as?: string } = {}): Promise<request.Response> {
    let req = request(admin)[method](path).set('Authorization', `Bearer ${options.as ?? token}`)
    if (options.body) req = req.send(options.body)
    const res = await req
    assert.equal(res.status, options.expect ?? 200, `${method.toUpperCase()} ${path}: ${res.text}`)
    conforms(method, path.split('?')[0]!, res)
    return res
  }

  /** Finds the operation of a concrete path, records it as called, and validates the body. */
  function conforms(method: string, path: string, res: request.Response): void {
    const [template, operation] = Object.entries(document.paths).map(([p, item]) => [p, item[method]] as const)
      .find(([p, op]) => op && new RegExp(`^${p.replace(/\{\w+\}/g, '[^/]+')}$`).test(path)) ?? []
    assert.ok(template && operation, `${method} ${path} is in the OpenAPI document`)
    called.add(operation.operationId)
    const content = operation.responses[String(res.status)]?.content
    assert.ok(content, `${operation.operationId} documents status ${res.status}`)
    const [type, { schema }] = Object.entries(content)[0]!
    assert.ok(res.headers['content-type']!.startsWith(type === 'application/x-ndjson' ? 'application/x-ndjson' : type.split(';')[0]!), `${operation.operationId}: ${res.headers['content-type']} for ${type}`)
    if (!type.includes('json')) return
    const validate = ajv.compile({ ...schema, components: document.components })
    const bodies = type === 'application/x-ndjson' ? res.text.trim().split('\n').map((l) => JSON.parse(l) as unknown) : [res.body as unknown]
    for (const body of bodies) assert.ok(validate(body), `${operation.operationId}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(body).slice(0, 300)}`)
  }

  before(async () => {
    admin = server.adminUrl!
    assert.ok(admin, 'the management listener runs')
    const created = await server.ctx.clients.add({ name: '운영 자동화', admin: true })
    adminClientId = created.client_id
    adminSecret = String(created.client_secret)
    const res = await clientToken(adminClientId, adminSecret, 'admin')
    assert.equal(res.status, 200, res.text)
    token = res.body.access_token as string
    document = (await request(admin).get('/openapi.json').expect(200)).body as Document
  })

  it('publishes an OpenAPI 3.1 document that an OpenAPI validator accepts', async () => {
    assert.equal(document.openapi, '3.1.0')
    const result = await new Validator().validate(document as never)
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2))
  })

  it('lets in only an admin API client\'s client-credentials token with scope admin', async () => {
    const refused = async (authorization: string | undefined, status: number, error: string) => {
      let req = request(admin).get('/clients')
      if (authorization) req = req.set('Authorization', authorization)
      const res = await req
      assert.equal(res.status, status, res.text)
      assert.equal(res.body.error, error)
      assert.match(res.headers['www-authenticate']!, /^Bearer realm="postcert-admin"/)
    }
    await refused(undefined, 401, 'invalid_token')
    await refused('Bearer not-a-token', 401, 'invalid_token')
    await refused(`Basic ${Buffer.from('a:b').toString('base64')}`, 401, 'invalid_token')

    // An institution cannot get scope admin; its client-credentials token opens nothing.
    const bank = await server.ctx.clients.add({ name: '은행', grantTypes: ['client_credentials'] })
    const asked = await clientToken(bank.client_id, String(bank.client_secret), 'admin')
    assert.equal(asked.status, 400)
    assert.equal(asked.body.error, 'invalid_scope')
    const bankToken = await clientToken(bank.client_id, String(bank.client_secret))
    assert.equal(bankToken.status, 200)
    await refused(`Bearer ${bankToken.body.access_token}`, 401, 'invalid_token')
    await assert.rejects(server.ctx.clients.add({ name: '은행', grantTypes: ['client_credentials'], scope: 'openid admin' }), /scope admin is for the operator's admin API clients/)

    // The admin client's token without the scope.
    const unscoped = await clientToken(adminClientId, adminSecret)
    assert.equal(unscoped.status, 200, unscoped.text)
    await refused(`Bearer ${unscoped.body.access_token}`, 403, 'insufficient_scope')

    // A subscriber's access token at an institution.
    const rp = await h.relyingParty({ name: '관리자 시험 은행', redirectUri: 'https://admin-test.example.kr/cb' })
    const { tokens } = await h.login(rp, await h.subscriber())
    await refused(`Bearer ${tokens.access_token}`, 401, 'invalid_token')

    // Dynamic registration cannot make an admin API client, whatever it sends.
    const iat = await createInitialAccessToken(server.ctx.host.provider, { days: 1 })
    const registered = await request(server.url).post('/reg').set('Authorization', `Bearer ${iat.token}`)
      .send({ client_name: 'sneaky', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], [ADMIN_API]: true })
    assert.equal(registered.status, 201, registered.text)
    assert.equal(registered.body[ADMIN_API], undefined)
    assert.equal((await clientToken(registered.body.client_id as string, registered.body.client_secret as string, 'admin')).body.error, 'invalid_scope')
    const sneaky = await clientToken(registered.body.client_id as string, registered.body.client_secret as string)
    await refused(`Bearer ${sneaky.body.access_token}`, 401, 'invalid_token')
    const asAdmin = await request(server.url).post('/reg').set('Authorization', `Bearer ${(await createInitialAccessToken(server.ctx.host.provider, { days: 1 })).token}`)
      .send({ client_name: 'sneaky', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'admin' })
    assert.equal(asAdmin.status, 400, 'a registration cannot ask for scope admin')

    // A rotated secret ends the tokens the old one got (a leaked secret's tokens included).
    const leaked = await server.ctx.clients.add({ name: '유출된 자동화', admin: true })
    const leakedToken = (await clientToken(leaked.client_id, String(leaked.client_secret), 'admin')).body.access_token as string
    await request(admin).get('/keys').set('Authorization', `Bearer ${leakedToken}`).expect(200)
    await server.ctx.clients.rotateSecret(leaked.client_id)
    await refused(`Bearer ${leakedToken}`, 401, 'invalid_token')

    // The admin API is not on the public port.
    await request(server.url).get('/clients').set('Authorization', `Bearer ${token}`).expect(404)
    assert.equal((await request(server.url).get('/openapi.json')).status, 404)
  })

  it('answers every route as documented, and writes each action to the audit log with the client that did it', async () => {
    // Clients.
    const added = await call('post', '/clients', { expect: 201, body: { client_name: '새 은행', redirect_uris: ['https://new-bank.example.kr/cb'] } })
    const newId = added.body.client_id as string
    assert.equal(typeof added.body.client_secret, 'string')
    const listed = await call('get', '/clients')
    assert.ok((listed.body.clients as { client_id: string }[]).some((c) => c.client_id === newId))
    assert.ok(!(listed.body.clients as Record<string, unknown>[]).some((c) => 'client_secret' in c))
    assert.equal((await call('get', `/clients/${newId}`)).body.client_name, '새 은행')
    const rotated = await call('post', `/clients/${newId}/secret`)
    assert.notEqual(rotated.body.client_secret, added.body.client_secret)
    await call('delete', `/clients/${newId}`)
    await call('get', `/clients/${newId}`, { expect: 404 })
    await call('post', '/clients', { expect: 400, body: { client_name: 'bad', redirect_uris: ['http://evil.example/cb'] } })
    await call('post', '/clients', { expect: 400, body: { client_name: 'x', unknown_field: 1 } })
    // An API client cannot mint another operator identity (it would approve its own dual-control requests),
    // neither with the flag nor by writing the metadata itself, nor take over or remove another operator's client.
    assert.equal((await call('post', '/clients', { expect: 403, body: { client_name: 'second me', admin: true } })).body.error, 'console_only')
    for (const metadata of [{ postcert_admin_api: true, scope: 'admin' }, { postcert_admin_api: true }, { client_secret: 'chosen' }]) {
      await call('post', '/clients', { expect: 400, body: { client_name: 'shadow', grant_types: ['client_credentials'], metadata } })
    }
    const colleague = await server.ctx.clients.add({ name: '동료 운영자', admin: true })
    assert.equal((await call('post', `/clients/${colleague.client_id}/secret`, { expect: 403 })).body.error, 'console_only')
    assert.equal((await call('delete', `/clients/${colleague.client_id}`, { expect: 403 })).body.error, 'console_only')

    // Initial access tokens: usable at the public registration endpoint.
    const iat = await call('post', '/initial-access-tokens', { expect: 201, body: { expires_in_days: 2, ci: true } })
    assert.equal(iat.body.registration_endpoint, `${server.issuer}/reg`)
    assert.deepEqual(iat.body.policies, ['ci'])
    await request(server.url).post('/reg').set('Authorization', `Bearer ${iat.body.token}`).send({ client_name: 'via iat', redirect_uris: ['https://iat.example.kr/cb'] }).expect(201)

    // Keys and the CA.
    const keys = await call('get', '/keys')
    assert.equal((keys.body.keys as { state: string }[]).filter((k) => k.state === 'active').length, 2)
    const rotation = await call('post', '/keys/rotate')
    assert.equal(rotation.body.activated.length, 2)
    const ca = await call('get', '/ca')
    assert.deepEqual((ca.body.certificates as { role: string }[]).map((c) => c.role).sort(), ['issuing', 'root'])

    // Certificates and subscribers.
    const holder = await h.subscriber()
    const serial = holder.certificate.serial
    const search = await call('get', `/certificates?subscriber=${holder.id}&status=good`)
    assert.deepEqual((search.body.certificates as { serial: string }[]).map((c) => c.serial), [serial])
    await call('get', '/certificates?status=nope', { expect: 400 })
    await call('get', '/certificates?limit=1&limit=2', { expect: 400 })
    const firstPage = await call('get', '/certificates?limit=1')
    if (firstPage.body.next) await call('get', `/certificates?limit=1&after=${firstPage.body.next}`)
    assert.equal((await call('get', `/certificates/${serial}`)).body.status, 'good')
    await call('get', '/certificates/00ffee', { expect: 404 })
    assert.equal((await call('post', `/certificates/${serial}/suspend`)).body.status, 'suspended')
    assert.equal((await request(server.url).get(`/pki/certificates/${serial}`).expect(200)).body.status, 'suspended')
    assert.equal((await call('post', `/certificates/${serial}/resume`)).body.status, 'good')
    await call('post', `/certificates/${serial}/revoke`, { expect: 400, body: { reason: 'superseded' } })
    const revoked = await call('post', `/certificates/${serial}/revoke`, { body: { reason: 'keyCompromise' } })
    assert.equal(revoked.body.revocation_reason, 'keyCompromise')
    assert.equal((await request(server.url).get(`/pki/certificates/${serial}`).expect(200)).body.status, 'revoked')
    await call('post', `/certificates/${serial}/resume`, { expect: 409 })
    const found = await call('get', '/subscribers?phone=010-0000-0001')
    assert.ok((found.body.subscribers as { id: string }[]).some((s) => s.id === holder.id))
    await call('get', '/subscribers?phone=12', { expect: 400 })
    const shown = await call('get', `/subscribers/${holder.id}`)
    assert.deepEqual((shown.body.certificates as { status: string }[]).map((c) => c.status), ['revoked'])
    assert.ok((shown.body.activity as { type: string }[]).some((e) => e.type === 'certificate.revoked'))
    await call('get', '/subscribers/ps_nobody', { expect: 404 })

    // The audit log: every action above, with the admin client as the actor.
    const actor = `client:${adminClientId}`
    const audit = await call('get', '/audit?limit=1000')
    const byType = (type: string) => (audit.body.events as { type: string; data: { actor?: string } }[]).filter((e) => e.type === type)
    // Every read naming the subscriber: the search of their certificates, by phone, their record.
    assert.ok(byType('operator.subscriber_viewed').filter((e) => e.data.actor === actor).length >= 3, 'each read of the subscriber')
    for (const type of ['operator.client_added', 'operator.client_secret_rotated', 'operator.client_removed', 'operator.initial_access_token_created', 'operator.keys_rotated', 'certificate.suspended', 'certificate.resumed', 'certificate.revoked']) {
      assert.ok(byType(type).some((e) => e.data.actor === actor), `${type} by ${actor}`)
    }
    const page = await call('get', '/audit?limit=2')
    assert.equal(page.body.events.length, 2)
    await call('get', `/audit?limit=2&before=${page.body.next}`)
    assert.equal((await call('get', `/audit?serial=${serial}&type=certificate.revoked`)).body.events.length, 1)

    // Metrics need the token too.
    await request(admin).get('/metrics').expect(401)
    const metrics = await request(admin).get('/metrics').set('Authorization', `Bearer ${token}`).expect(200)
    conforms('get', '/metrics', metrics)
    assert.match(metrics.text, /postcert_http_requests_total\{method="GET",route="admin_queryAudit",status="200"\}/)
    const health = await request(admin).get('/healthz').expect(200)
    conforms('get', '/healthz', health)
    assert.deepEqual(health.body, { status: 'ok' })
    conforms('get', '/openapi.json', await request(admin).get('/openapi.json'))
    // This test server wrote no local token: nothing to prove.
    conforms('post', '/cli/proof', await request(admin).post('/cli/proof').send({ nonce: 'a'.repeat(22) }).expect(404))
  })

  it('exports the audit log as JSON lines whose last line, signed with the receipt key, gives their count and SHA-256', async () => {
    const res = await call('get', `/audit/export?from=${new Date(clock.now().getTime() - 86_400_000).toISOString()}`)
    assert.match(res.headers['content-disposition']!, /attachment; filename="postcert-exportAudit.jsonl"/)
    const lines = res.text.split('\n').filter(Boolean)
    const last = JSON.parse(lines.pop()!) as { export: { count: number; sha256: string }; jws: string; key: { kid: string } }
    assert.equal(last.export.count, lines.length)
    assert.ok(lines.length > 5)
    const digest = createHash('sha256').update(lines.map((l) => `${l}\n`).join('')).digest('base64url')
    assert.equal(last.export.sha256, digest)
    // The issuer's JWKS has the key (the line carries it too, for when it is no longer published).
    const keys = (await request(server.url).get('/jwks').expect(200)).body as JSONWebKeySet
    assert.ok(keys.keys.some((k) => k.kid === last.key.kid))
    const { payload, protectedHeader } = await jwtVerify(last.jws, createLocalJWKSet(keys), { issuer: server.issuer })
    await jwtVerify(last.jws, createLocalJWKSet({ keys: [last.key] }), { issuer: server.issuer })
    conforms('get', '/signatures/keys', await request(server.url).get('/signatures/keys'))
    assert.equal(protectedHeader.typ, 'postcert-audit-export+jwt')
    assert.deepEqual(payload.export, last.export)
    // The export itself is audited.
    const after = await call('get', '/audit?type=operator.audit_exported')
    assert.equal(after.body.events[0].data.count, last.export.count)
  })

  it('documents the public PKI endpoints, which answer as documented', async () => {
    const holder = await h.subscriber()
    for (const path of ['/pki/ca.pem', '/pki/issuing.cer', '/pki/crl', '/pki/crl/7', `/pki/certificates/${holder.certificate.serial}`]) {
      conforms('get', path, await request(server.url).get(path).expect(200))
    }
    conforms('get', '/pki/crl/4096', await request(server.url).get('/pki/crl/4096').expect(400))
    const ocspRequest = Buffer.from('3000', 'hex')
    conforms('post', '/pki/ocsp', await request(server.url).post('/pki/ocsp').set('Content-Type', 'application/ocsp-request').send(ocspRequest))
    conforms('get', '/pki/ocsp/MAA%3D', await request(server.url).get('/pki/ocsp/MAA%3D'))
    conforms('get', '/signatures/sig_0000000000000000000000', await request(server.url).get('/signatures/sig_0000000000000000000000'))
    conforms('post', '/signatures/verify', await request(server.url).post('/signatures/verify').send({ payload: 'x' }))
  })

  it('runs a bulk revocation only when a second operator approves it (dual control)', async () => {
    const second = await server.ctx.clients.add({ name: '두 번째 운영자', admin: true })
    const secondToken = async () => (await clientToken(second.client_id, String(second.client_secret), 'admin')).body.access_token as string
    const holder = await h.subscriber()
    const other = (await issueCertificate(server.ctx.authority, { subscriberId: holder.id })).certificate
    const status = async (serial: string) => (await request(server.url).get(`/pki/certificates/${serial}`).expect(200)).body.status as string

    const asked = await call('post', '/approvals', { expect: 201, body: { action: 'revokeCertificates', params: { subscriber: holder.id, reason: 'keyCompromise' } } })
    const id = asked.body.id as string
    assert.equal(asked.body.status, 'pending')
    // What the second operator sees is what runs: the subscriber's certificates as of the asking.
    assert.deepEqual([...asked.body.params.serials].sort(), [holder.certificate.serial, other.serial].sort())
    const later = (await issueCertificate(server.ctx.authority, { subscriberId: holder.id })).certificate
    assert.equal(await status(holder.certificate.serial), 'good', 'nothing happens on the asking alone')
    const own = await call('post', `/approvals/${id}/approve`, { expect: 403 })
    assert.equal(own.body.error, 'second_operator_required')
    await call('post', '/approvals', { expect: 400, body: { action: 'revokeCertificates', params: { serials: ['ab'], subscriber: holder.id, reason: 'keyCompromise' } } })
    await call('post', '/approvals', { expect: 400, body: { action: 'revokeCertificates', params: { subscriber: holder.id, reason: 'superseded' } } })
    await call('post', '/approvals', { expect: 400, body: { action: 'dropDatabase', params: {} } })

    const approved = await call('post', `/approvals/${id}/approve`, { as: await secondToken() })
    assert.equal(approved.body.status, 'executed')
    assert.deepEqual([...approved.body.result.revoked].sort(), [holder.certificate.serial, other.serial].sort())
    assert.equal(await status(holder.certificate.serial), 'revoked')
    assert.equal(await status(other.serial), 'revoked')
    assert.equal(await status(later.serial), 'good', 'issued after the asking: not part of it')
    assert.equal((await call('post', `/approvals/${id}/approve`, { expect: 409, as: await secondToken() })).body.error, 'approval_closed')
    assert.equal((await call('get', `/approvals/${id}`)).body.decided_by, `client:${second.client_id}`)
    assert.ok((await call('get', '/approvals?status=executed')).body.approvals.some((a: { id: string }) => a.id === id))
    const revocations = (await call('get', `/audit?serial=${other.serial}&type=certificate.revoked`)).body.events as { data: { actor: string } }[]
    assert.equal(revocations[0]!.data.actor, `approval:${id}`)
    const approvals = (await call('get', '/audit?type=operator.approval_approved')).body.events as { data: { actor: string; requested_by: string } }[]
    assert.deepEqual([approvals[0]!.data.actor, approvals[0]!.data.requested_by], [`client:${second.client_id}`, `client:${adminClientId}`])

    // Two operators approving the same request at the same moment: it runs once.
    const third = await server.ctx.clients.add({ name: '세 번째 운영자', admin: true })
    const thirdToken = (await clientToken(third.client_id, String(third.client_secret), 'admin')).body.access_token as string
    const contested = await call('post', '/approvals', { expect: 201, body: { action: 'revokeCertificates', params: { serials: [later.serial], reason: 'unspecified' } } })
    const [one, two] = await Promise.all([await secondToken(), thirdToken].map((t) => request(admin).post(`/approvals/${contested.body.id}/approve`).set('Authorization', `Bearer ${t}`)))
    assert.deepEqual([one!.status, two!.status].sort(), [200, 409])
    const winner = one!.status === 200 ? one! : two!
    assert.deepEqual(winner.body.result.revoked, [later.serial])
    assert.equal((await call('get', `/audit?serial=${later.serial}&type=certificate.revoked`)).body.events.length, 1, 'revoked once')

    // Withdrawn by the one who asked; a serial that cannot be revoked is reported, not fatal.
    const withdrawn = await call('post', '/approvals', { expect: 201, body: { action: 'revokeCertificates', params: { serials: ['abcd'], reason: 'unspecified' } } })
    assert.equal((await call('post', `/approvals/${withdrawn.body.id}/reject`)).body.status, 'rejected')
    await call('post', `/approvals/${withdrawn.body.id}/approve`, { expect: 409, as: await secondToken() })
    const partial = await call('post', '/approvals', { expect: 201, body: { action: 'revokeCertificates', params: { serials: ['abcd', other.serial], reason: 'unspecified' } } })
    const ran = await call('post', `/approvals/${partial.body.id}/approve`, { as: await secondToken() })
    assert.deepEqual(ran.body.result.revoked, [])
    assert.deepEqual(ran.body.result.skipped.map((s: { serial: string }) => s.serial), ['abcd', other.serial])

    // A run cut off by a crash (left executing) can be approved again once clearly not running; what it did counts as done.
    const cut = await call('post', '/approvals', { expect: 201, body: { action: 'revokeCertificates', params: { serials: [holder.certificate.serial], reason: 'unspecified' } } })
    await server.ctx.db.updateTable('operator_approval').set({ status: 'executing', decided_by: `client:${second.client_id}`, decided_at: new Date(clock.now().getTime() - 60_000) })
      .where('id', '=', cut.body.id).execute()
    await call('post', `/approvals/${cut.body.id}/approve`, { expect: 409, as: await secondToken() })
    clock.advance(11 * 60)
    token = (await clientToken(adminClientId, adminSecret, 'admin')).body.access_token as string
    const resumed = await call('post', `/approvals/${cut.body.id}/approve`, { as: await secondToken() })
    assert.equal(resumed.body.status, 'executed')
    assert.deepEqual(resumed.body.result.skipped.map((s: { serial: string }) => s.serial), [holder.certificate.serial], 'already revoked by the first approval')

    // Not approved within a day: it can no longer be.
    const late = await call('post', '/approvals', { expect: 201, body: { action: 'revokeCertificates', params: { serials: [holder.certificate.serial], reason: 'unspecified' } } })
    clock.advance(25 * 3600)
    token = (await clientToken(adminClientId, adminSecret, 'admin')).body.access_token as string
    assert.equal((await call('post', `/approvals/${late.body.id}/approve`, { expect: 409, as: await secondToken() })).body.error, 'approval_closed')
    assert.ok((await call('get', '/approvals?status=expired')).body.approvals.some((a: { id: string }) => a.id === late.body.id))
  })

  it('lets one operator change at most thirty certificates one by one an hour: the rest takes dual control', async () => {
    const holder = await h.subscriber()
    const serials = [holder.certificate.serial]
    for (let i = 0; i < SINGLE_CHANGES_PER_HOUR; i++) serials.push((await issueCertificate(server.ctx.authority, { subscriberId: holder.id })).certificate.serial)
    for (const serial of serials.slice(0, SINGLE_CHANGES_PER_HOUR)) await call('post', `/certificates/${serial}/suspend`)
    const refused = await call('post', `/certificates/${serials.at(-1)}/revoke`, { expect: 429, body: { reason: 'keyCompromise' } })
    assert.equal(refused.body.error, 'dual_control_required')
    assert.equal((await request(server.url).get(`/pki/certificates/${serials.at(-1)}`).expect(200)).body.status, 'good')
    // Resuming is not limited; an hour later the allowance is back.
    await call('post', `/certificates/${serials[0]}/resume`)
    clock.advance(3600)
    token = (await clientToken(adminClientId, adminSecret, 'admin')).body.access_token as string
    await call('post', `/certificates/${serials.at(-1)}/revoke`, { body: { reason: 'keyCompromise' } })
  })

  it('lists the console\'s operators to an API client, but leaves inviting and disabling them to the server\'s console', async () => {
    await server.ctx.operators.invite('api-seen', { id: 'cli', clientId: undefined })
    const listed = await call('get', '/operators')
    assert.ok((listed.body.operators as { name: string; passkeys: number }[]).some((o) => o.name === 'api-seen' && o.passkeys === 0))
    // An API client inviting an operator would mint a second person to approve its own requests.
    assert.equal((await call('post', '/operators', { expect: 403, body: { name: 'shadow' } })).body.error, 'console_only')
    assert.equal((await call('post', '/operators/api-seen/disable', { expect: 403 })).body.error, 'console_only')
    await call('post', '/operators', { expect: 400, body: { name: 'Not A Name' } })
    assert.ok(!(await server.ctx.operators.list()).some((o) => o.name === 'shadow'))
  })

  it('has every documented operation called by these tests', () => {
    const documented = Object.values(document.paths).flatMap((item) => Object.entries(item).filter(([k]) => k !== 'servers').map(([, op]) => (op as Operation).operationId))
    assert.deepEqual([...called].sort(), [...new Set(documented)].sort())
  })
})
