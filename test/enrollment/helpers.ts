import assert from 'node:assert/strict'
import request from 'supertest'
import type { TestServer } from '../helpers/server.ts'

export const PERSON_1 = { phone: '010-0000-0001', document_type: 'resident_card', name: '김우정', birthdate: '1990-01-15', number: '900115-1000001', issue_date: '2015-03-02' }
export const PERSON_2 = { phone: '010-0000-0002', document_type: 'driver_licence', name: '이소포', birthdate: '1985-11-30', number: '12-00-000000-02', issue_date: '2016-02-11' }

export const csrfOf = (html: string) => html.match(/name="csrf" value="([^"]+)"/)![1]!

/** A browser (cookie jar) that has started an enrollment; `csrf` is the enrollment's token. */
export async function startEnrollment(server: TestServer) {
  const browser = request.agent(server.url)
  const start = await browser.get('/enroll').expect(200)
  const started = await browser.post('/enroll/start').type('form').send({ csrf: csrfOf(start.text) }).expect(303)
  assert.equal(started.headers.location, '/enroll/phone')
  const page = await browser.get('/enroll/phone').expect(200)
  return { browser, csrf: csrfOf(page.text), started }
}

/** The last code the sandbox gateway sent to this number. */
export async function lastCode(server: TestServer, phoneE164: string): Promise<string> {
  const res = await request(server.url).get('/sandbox/sms').set('Accept', 'application/json').expect(200)
  const message = (res.body.messages as { to: string; body: string }[]).find((m) => m.to === phoneE164)
  assert.ok(message, `a message to ${phoneE164}`)
  return message.body.match(/(\d{6})/)![1]!
}

export async function verifyPhone(server: TestServer, browser: request.Agent, csrf: string, phone: string, e164: string) {
  await browser.post('/enroll/phone/send').type('form').send({ csrf, phone }).expect(303)
  const code = await lastCode(server, e164)
  await browser.post('/enroll/phone/verify').type('form').send({ csrf, code }).expect(303)
}
