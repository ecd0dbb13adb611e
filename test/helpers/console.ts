// The operator console in tests: a server whose management listener serves it on localhost, and
// what its HTTP tests do with it (an invitation link's token, a passkey registered with it, the
// session cookie that gives).
import assert from 'node:assert/strict'
import request from 'supertest'
import type { Clock } from '../../src/util/clock.ts'
import { startTestServer, type TestServer } from './server.ts'
import type { SoftwarePasskey } from './software-passkey.ts'

/** A server with the console at `admin` (ADMIN_URL's origin `origin`, which a POST must name). */
export async function startConsoleServer(clock: Clock): Promise<{ server: TestServer; admin: string; origin: string }> {
  const server = await startTestServer({ hostname: 'localhost', env: { ADMIN_PORT: '0' }, overrides: { clock } })
  return { server, admin: server.adminUrl!, origin: server.ctx.adminOrigin! }
}

/** The single-use token of an invitation link: its fragment. */
export const invitationOf = (url: string) => new URL(url).hash.slice(1)

/** The console session cookie a response sets (`name=value`), HttpOnly and SameSite=Strict. */
export function sessionCookieOf(res: request.Response): string {
  const set = ([] as string[]).concat(res.headers['set-cookie'] ?? [])
  const session = set.find((c) => c.startsWith('postcert_console='))
  assert.ok(session, `a session cookie in ${res.status} ${res.text} ${set.join(' | ')}`)
  assert.match(session, /HttpOnly/i)
  assert.match(session, /SameSite=Strict/i)
  return session.split(';')[0]!
}

/** Registers `passkey` with an invitation, as the enrollment page does; returns the session cookie. */
export async function enrollOperator(admin: string, origin: string, passkey: SoftwarePasskey, invitation: string): Promise<string> {
  const post = (path: string, body: object) => request(admin).post(path).set('Origin', origin).send(body)
  const options = await post('/console/enroll/options', { invitation }).expect(200)
  const done = await post('/console/enroll', { invitation, challengeId: options.body.challengeId, response: passkey.register(options.body.options) })
  assert.equal(done.status, 200, done.text)
  return sessionCookieOf(done)
}
