// What an operator's monitoring sees: /metrics with the standard process metrics and PostCert's
// domain counters, and one JSON log line per request with an ISO timestamp, the error code of an
// error answer and the client it was for.
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { before, describe, it } from 'node:test'
import request from 'supertest'
import { createLogger } from '../../src/ops/logger.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { loginSuite } from '../helpers/suite.ts'
import { subscriberKey } from '../helpers/pki.ts'
import { PERSON_1, startEnrollment, verifyPhone } from '../enrollment/helpers.ts'
import type { LoginHarness } from '../login/harness.ts'

/** The log lines written so far, parsed. */
class LogCapture extends Writable {
  readonly lines: Record<string, unknown>[] = []
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) if (line) this.lines.push(JSON.parse(line) as Record<string, unknown>)
    done()
  }
  requests(route: string) {
    return this.lines.filter((l) => l.msg === 'request' && l.route === route)
  }
}

/** One sample of a metric from the exposition text: its value, or undefined if absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(?:\{([^}]*)\})? (\S+)$/.exec(line)
    if (!m || m[1] !== name) continue
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]))
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[3])
  }
  return undefined
}

describe('observability: metrics and request logs', () => {
  const clock = new ManualClock()
  const logs = new LogCapture()
  const { server, h } = loginSuite(clock, () => ({ overrides: { logger: createLogger('info', {}, logs) } }))
  let rp: Awaited<ReturnType<LoginHarness['relyingParty']>>
  const metrics = async () => (await request(server.url).get('/metrics').expect(200)).text
  before(async () => {
    rp = await h.relyingParty({ name: '관측 은행', redirectUri: 'https://observe.example.kr/cb' })
  })

  it('names the process and Node.js metrics as standard dashboards expect (no postcert_ prefix)', async () => {
    const text = await metrics()
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      assert.notEqual(sample(text, name), undefined, name)
    }
    assert.doesNotMatch(text, /^postcert_(process|nodejs)_/m)
  })

  it('logs each request with an ISO timestamp, and an error answer with its code and the registered client it was for', async () => {
    // A token request from a registered client with a code that does not exist: invalid_grant.
    await request(server.url).post('/token').auth(rp.clientId, rp.clientSecret).type('form')
      .send({ grant_type: 'authorization_code', code: 'nope', redirect_uri: rp.redirectUri, code_verifier: 'x'.repeat(43) }).expect(400)
    const token = logs.requests('token').at(-1)!
    assert.equal(token.status, 400)
    assert.equal(token.error, 'invalid_grant')
    assert.equal(token.client, rp.clientId)
    assert.match(String(token.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)

    // A refused login proof on the interaction pages: the client comes from the interaction.
    const holder = await h.subscriber()
    const { response } = await h.prove(await h.begin(rp), { ...holder, key: subscriberKey() })
    assert.equal(response.body.error, 'invalid_proof')
    const login = logs.requests('interaction_login_file').at(-1)!
    assert.deepEqual([login.status, login.error, login.client], [400, 'invalid_proof', rp.clientId])

    // A page: its error code; a success: no error field; an unknown client claimed in a request: not logged as a client.
    await request(server.url).get('/no/such/page').set('Accept', 'text/html').expect(404)
    assert.equal(logs.requests('unmatched').at(-1)!.error, 'not_found')
    await request(server.url).get('/healthz').expect(200)
    assert.equal('error' in logs.requests('healthz').at(-1)!, false)
    await request(server.url).post('/token').auth('someone-else', 'x').type('form').send({ grant_type: 'client_credentials' }).expect(401)
    const unknown = logs.requests('token').at(-1)!
    assert.equal(unknown.error, 'invalid_client')
    assert.equal(unknown.client, undefined)
  })

  it('counts logins and refused proofs by reason, issuance by kind and status changes by reason', async () => {
    const before = await metrics()
    const holder = await h.subscriber()
    assert.equal((await h.prove(await h.begin(rp), holder)).response.status, 200)
    await h.prove(await h.begin(rp), { ...holder, key: subscriberKey() })
    await server.ctx.authority.revoke(holder.certificate.serial, 'keyCompromise')
    const after = await metrics()
    const delta = (name: string, labels: Record<string, string>) => (sample(after, name, labels) ?? 0) - (sample(before, name, labels) ?? 0)
    assert.equal(delta('postcert_logins_total', { holder: 'file' }), 1)
    assert.equal(delta('postcert_login_failures_total', { reason: 'invalid_proof' }), 1)
    assert.equal(delta('postcert_certificates_issued_total', { kind: 'new' }), 1, 'h.subscriber() issued one')
    assert.equal(delta('postcert_certificate_status_changes_total', { status: 'revoked', reason: 'keyCompromise' }), 1)
    assert.equal(delta('postcert_http_errors_total', { route: 'interaction_login_file', error: 'invalid_proof' }), 1)
  })

  it('counts the enrollment funnel, times the SMS and identity providers, and counts rate-limit refusals', async () => {
    const before = await metrics()
    const { browser, csrf } = await startEnrollment(server)
    await verifyPhone(server, browser, csrf, PERSON_1.phone, '+821000000001')
    await browser.post('/enroll/identity').type('form').send({ ...PERSON_1, number_front: PERSON_1.number.slice(0, 6), number_back: PERSON_1.number.slice(7), csrf }).expect(303)
    const after = await metrics()
    const delta = (name: string, labels: Record<string, string>) => (sample(after, name, labels) ?? 0) - (sample(before, name, labels) ?? 0)
    assert.equal(delta('postcert_enrollment_steps_total', { step: 'started' }), 1)
    assert.equal(delta('postcert_enrollment_steps_total', { step: 'phone_verified' }), 1)
    assert.equal(delta('postcert_enrollment_steps_total', { step: 'identity_verified' }), 1)
    assert.equal(delta('postcert_provider_request_duration_seconds_count', { provider: 'sms', outcome: 'ok' }), 1)
    assert.equal(delta('postcert_provider_request_duration_seconds_count', { provider: 'identity', outcome: 'ok' }), 1)

    // Wrong codes until the code is spent: each refusal after that is a lockout, counted with its code and logged with it.
    const other = await startEnrollment(server)
    await other.browser.post('/enroll/phone/send').type('form').send({ csrf: other.csrf, phone: '010-0000-0002' }).expect(303)
    for (let i = 0; i < 8; i++) await other.browser.post('/enroll/phone/verify').type('form').send({ csrf: other.csrf, code: '000000' }).expect(400)
    const spent = logs.requests('enroll_phone_verify').filter((l) => l.error === 'code_exhausted').length
    assert.ok(spent > 0, 'the code was spent by wrong tries')
    assert.equal(logs.requests('enroll_phone_verify').filter((l) => l.error === 'code_wrong').length, 8 - spent)
    assert.equal(sample(await metrics(), 'postcert_rate_limited_total', { route: 'enroll_phone_verify', reason: 'code_exhausted' }), spent)
  })

  it('reports the age of the published CRL', async () => {
    await request(server.url).get('/pki/crl').expect(200)
    const age = sample(await metrics(), 'postcert_crl_age_seconds')
    assert.ok(age !== undefined && age >= 0 && age < 3600, `age ${age}`)
  })
})
