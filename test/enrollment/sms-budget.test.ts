import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { SandboxSmsGateway } from '../../src/phone/sms/sandbox-sms-gateway.ts'
import { SmsDeliveryError, type SmsGateway } from '../../src/phone/sms/sms-gateway.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { signInToPortal } from '../account/helpers.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { LoginHarness } from '../login/harness.ts'
import { PERSON_1, startEnrollment } from './helpers.ts'

/** The sandbox outbox behind a switch: while `down`, the gateway refuses every message. */
class SwitchableGateway implements SmsGateway {
  readonly kind = 'sandbox' as const
  down = false
  inner: SandboxSmsGateway | undefined
  async send(to: string, body: string): Promise<void> {
    if (this.down) throw new SmsDeliveryError('the gateway is down')
    await this.inner!.send(to, body)
  }
}

describe('text-message budgets: strangers cannot spend a subscriber\'s, failures are not counted', () => {
  let server: TestServer
  const clock = new ManualClock()
  const gateway = new SwitchableGateway()
  before(async () => {
    server = await startTestServer({ overrides: { clock, sms: gateway } })
    gateway.inner = new SandboxSmsGateway(server.ctx.db, clock)
  })
  after(async () => { await server.close() })

  const enrollWith = async (phone: string) => {
    const { browser, csrf } = await startEnrollment(server)
    return await browser.post('/enroll/phone/send').type('form').send({ csrf, phone })
  }

  it('enrollments naming a number use up enrollment\'s budget only: its owner still gets the portal\'s code', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await enrollWith(PERSON_1.phone)).status, 303)
    assert.equal((await enrollWith(PERSON_1.phone)).status, 429, 'the number\'s enrollment budget is spent')
    const h = new LoginHarness(server, clock)
    const holder = await h.subscriber() // phone +821000000001, as PERSON_1
    clock.advance(340 * 86_400)
    try {
      const { browser, csrf } = await signInToPortal(h, server, holder)
      await browser.post(`/account/certificates/${holder.certificate.serial}/renew/code`).type('form').send({ csrf }).expect(303)
    } finally {
      clock.advance(-340 * 86_400)
    }
  })

  it('a message the gateway refused is not counted against the number', async () => {
    clock.advance(3600)
    gateway.down = true
    for (let i = 0; i < 6; i++) assert.equal((await enrollWith('010-0000-0002')).status, 503, 'the gateway is down')
    gateway.down = false
    assert.equal((await enrollWith('010-0000-0002')).status, 303, 'nothing was sent, so nothing was spent')
  })
})
