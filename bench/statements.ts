// Counts the SQL statements each request of a login and of a refresh sends to PostgreSQL, with
// their text, against an in-process PostCert: where round trips can still be saved. Run by hand:
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:statements
// The login is driven as the test harness drives it, which asks for one more challenge than the
// login page does (its page already carries one): two statements more than a browser's login.
import pg from 'pg'
import * as client from 'openid-client'
import { systemClock } from '../src/util/clock.ts'
import { LoginHarness } from '../test/login/harness.ts'
import { startTestServer } from '../test/helpers/server.ts'

const log: string[] = []
const query = pg.Client.prototype.query as (...args: unknown[]) => unknown
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const first = args[0]
  const text = typeof first === 'string' ? first : (first as { text?: string }).text ?? '?'
  log.push(text.replace(/\s+/g, ' ').slice(0, 140))
  return query.apply(this, args)
} as typeof pg.Client.prototype.query

const server = await startTestServer({ backend: 'postgres' })
try {
  const h = new LoginHarness(server, systemClock)
  const rp = await h.relyingParty({ redirectUri: 'https://count.example.kr/cb', scope: 'openid profile phone offline_access', grantTypes: ['authorization_code', 'refresh_token'] })
  const holder = await h.subscriber()
  // The first login registers; the second is what a returning citizen does.
  await h.login(rp, holder)
  const counted = async <T>(name: string, step: () => Promise<T>): Promise<T> => {
    log.length = 0
    const result = await step()
    console.log(`\n${name}: ${log.length} statements`)
    for (const line of log) console.log(`  ${line}`)
    return result
  }
  await counted('a returning login, whole', () => h.login(rp, holder))
  const { tokens } = await h.login(rp, holder, { scope: 'openid offline_access', prompt: 'consent' })
  const refreshed = await counted('refresh', () => client.refreshTokenGrant(rp.config, tokens.refresh_token!))
  await counted('userinfo', () => client.fetchUserInfo(rp.config, refreshed.access_token, client.skipSubjectCheck))
  await counted('introspection of a login\'s access token', () => client.tokenIntrospection(rp.config, refreshed.access_token))
} finally {
  await server.close()
}
