import { after, before } from 'node:test'
import type { ManualClock } from '../../src/util/clock.ts'
import { LoginHarness } from '../login/harness.ts'
import { SigningHarness } from '../signing/harness.ts'
import { late } from './late.ts'
import { startTestServer, type TestServer } from './server.ts'

type StartOptions = NonNullable<Parameters<typeof startTestServer>[0]>

/**
 * The setup most feature tests share, in one line inside a describe(): a PostCert on a fresh
 * database with the suite's clock (before), the login harness and the signing harness on it,
 * and the server closed and its data dropped (after). Hooks the file adds after this line run
 * after the server started. `options` is read when the server starts (it may name what earlier
 * hooks made).
 */
export function loginSuite(clock: ManualClock, options: () => StartOptions = () => ({})): { server: TestServer; h: LoginHarness; signing: SigningHarness } {
  let server: TestServer | undefined
  let h: LoginHarness | undefined
  let signing: SigningHarness | undefined
  before(async () => {
    const given = options()
    server = await startTestServer({ ...given, overrides: { ...given.overrides, clock } })
    h = new LoginHarness(server, clock)
    signing = new SigningHarness(h, server, clock)
  })
  after(async () => { await server?.close() })
  return { server: late('server', () => server), h: late('the login harness', () => h), signing: late('the signing harness', () => signing) }
}
