import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { HttpIdentityVerifier } from '../../src/enrollment/identity/http-identity-verifier.ts'
import { IdentityProviderError } from '../../src/enrollment/identity/identity-verifier.ts'
import { normalizeKoreanMobile } from '../../src/phone/phone-number.ts'
import { HttpSmsGateway } from '../../src/phone/sms/http-sms-gateway.ts'
import { SmsDeliveryError } from '../../src/phone/sms/sms-gateway.ts'
import { startTestServer } from '../helpers/server.ts'
import { PERSON_1, startEnrollment } from './helpers.ts'

/** A provider on loopback that answers from a script and records what it received. */
async function provider(script: ((body: unknown, auth: string | undefined) => [number, unknown])[]) {
  const received: { body: unknown; auth: string | undefined }[] = []
  const answer = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    let text = ''
    for await (const chunk of req) text += chunk
    const body = JSON.parse(text) as unknown
    received.push({ body, auth: req.headers.authorization })
    const step = script[Math.min(received.length - 1, script.length - 1)]!
    const [status, reply] = step(body, req.headers.authorization)
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(reply))
  }
  // A request the fake provider cannot read answers 500, as a broken provider would.
  const server = http.createServer((req, res) => { answer(req, res).catch(() => res.writeHead(500).end()) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  return { url, received, close: () => new Promise((resolve) => server.close(resolve)) }
}

describe('Korean mobile numbers', () => {
  it('normalises the usual forms to E.164 and refuses others', () => {
    for (const input of ['010-1234-5678', '01012345678', '+82 10-1234-5678', '+821012345678', '+82-010-1234-5678', '0082 10 1234 5678', '(010) 1234 5678']) {
      assert.equal(normalizeKoreanMobile(input), '+821012345678', input)
    }
    assert.equal(normalizeKoreanMobile('011-123-4567'), '+82111234567')
    for (const input of ['02-123-4567', '010-123-456', '+1 415 555 0100', '', 'abc', '010-1234-56789']) {
      assert.equal(normalizeKoreanMobile(input), undefined, input)
    }
  })
})

describe('HTTP SMS gateway', () => {
  it('posts JSON with the bearer token and retries a 5xx', async () => {
    const fake = await provider([() => [502, {}], () => [200, { ok: true }]])
    try {
      await new HttpSmsGateway(fake.url, 'sms-secret').send('+821012345678', 'hello')
      assert.equal(fake.received.length, 2)
      assert.deepEqual(fake.received[1], { body: { to: '+821012345678', text: 'hello' }, auth: 'Bearer sms-secret' })
    } finally {
      await fake.close()
    }
  })

  it('gives up on a 4xx at once, and on an unreachable gateway after its tries', async () => {
    const fake = await provider([() => [401, {}]])
    try {
      await assert.rejects(new HttpSmsGateway(fake.url, 'wrong').send('+821012345678', 'x'), SmsDeliveryError)
      assert.equal(fake.received.length, 1)
    } finally {
      await fake.close()
    }
    await assert.rejects(new HttpSmsGateway('http://127.0.0.1:9/', 't').send('+821012345678', 'x'), /did not accept the message/)
  })

  it('shows a try-again message, and withdraws the code, when the gateway is down', async () => {
    const server = await startTestServer({ env: { SMS_GATEWAY_URL: 'http://127.0.0.1:9/sms', SMS_GATEWAY_TOKEN: 't' } })
    try {
      const { browser, csrf } = await startEnrollment(server)
      const res = await browser.post('/enroll/phone/send').type('form').send({ csrf, phone: PERSON_1.phone }).expect(503)
      assert.match(res.text, /확인 서비스가 응답하지 않습니다/)
      // no 60-second wait: the subscriber may try again at once
      await browser.post('/enroll/phone/send').type('form').send({ csrf, phone: PERSON_1.phone }).expect(503)
      await browser.get('/sandbox/sms').expect(404)
    } finally {
      await server.close()
    }
  })
})

describe('HTTP identity provider', () => {
  const document = { type: 'passport' as const, name: 'Kim', birthdate: '1990-01-15', number: 'M12345678', issueDate: '2020-01-01' }

  it('maps verified and refused answers', async () => {
    const fake = await provider([
      () => [200, { verified: true, identity_key: 'person-42', name: 'Kim', birthdate: '1990-01-15', phones: ['+821012345678'] }],
      () => [200, { verified: false, reason: 'mismatch' }],
    ])
    try {
      const verifier = new HttpIdentityVerifier(fake.url, 'idv-secret')
      assert.deepEqual(await verifier.verify(document), { verified: true, identity: { identityKey: 'person-42', name: 'Kim', birthdate: '1990-01-15', phones: ['+821012345678'] } })
      assert.deepEqual(await verifier.verify(document), { verified: false, reason: 'mismatch' })
      assert.deepEqual(fake.received[0], {
        body: { document_type: 'passport', name: 'Kim', birthdate: '1990-01-15', document_number: 'M12345678', issue_date: '2020-01-01' },
        auth: 'Bearer idv-secret',
      })
    } finally {
      await fake.close()
    }
  })

  it('treats errors and unexpected answers as the provider being unavailable', async () => {
    const fake = await provider([() => [500, {}], () => [200, { verified: 'yes' }]])
    try {
      const verifier = new HttpIdentityVerifier(fake.url, 't')
      await assert.rejects(verifier.verify(document), IdentityProviderError)
      await assert.rejects(verifier.verify(document), /unexpected format/)
    } finally {
      await fake.close()
    }
  })
})

describe('sandbox outbox', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>
  before(async () => { server = await startTestServer() })
  after(async () => { await server.close() })

  it('lists sent messages as a page', async () => {
    const { browser, csrf } = await startEnrollment(server)
    await browser.post('/enroll/phone/send').type('form').send({ csrf, phone: PERSON_1.phone }).expect(303)
    const page = await browser.get('/sandbox/sms').set('Accept', 'text/html').expect(200)
    assert.match(page.text, /시험용 문자함/)
    assert.match(page.text, /\+821000000001/)
  })
})
