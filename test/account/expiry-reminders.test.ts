import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, beforeEach, describe, it } from 'node:test'
import { ExpiryReminders, REMINDER_CLAIM_STALE_SECONDS, reminderText } from '../../src/account/expiry-reminders.ts'
import { connectDatabase } from '../../src/db/connect.ts'
import { HttpSmsGateway } from '../../src/phone/sms/http-sms-gateway.ts'
import { SandboxSmsGateway } from '../../src/phone/sms/sandbox-sms-gateway.ts'
import { SmsDeliveryError, type SmsGateway } from '../../src/phone/sms/sms-gateway.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { BACKENDS, NEEDS_POSTGRES } from '../helpers/db.ts'
import { issueCertificate, signChallenge, subscriberKey } from '../helpers/pki.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const DAY = 86_400
// Certificates live 40 days here: a test moves the clock past them before the next one starts.
const VALIDITY_DAYS = 40
const ENV = { CERT_VALIDITY_DAYS: String(VALIDITY_DAYS), RENEWAL_WINDOW_DAYS: '30' }

let phones = 0

/** A subscriber as enrollment leaves them, with a phone of their own and a certificate issued now. */
async function subscriber(server: TestServer) {
  const id = `ps_test_${Math.random().toString(36).slice(2)}`
  const phone = `+8210${String(++phones).padStart(8, '0')}`
  const now = server.ctx.clock.now()
  await server.ctx.db.insertInto('subscriber').values({
    id, ci: `ci-${id}`, name: '김우정', birthdate: '1990-01-15', phone_e164: phone,
    document_type: 'resident_card', document_last_digits: '0001', created_at: now, updated_at: now,
  }).execute()
  const { certificate } = await issueCertificate(server.ctx.authority, { subscriberId: id })
  return { id, phone, certificate }
}

/** The texts a phone received, oldest first, read from the sandbox outbox. */
async function inbox(server: TestServer, phone: string): Promise<string[]> {
  const outbox = await (server.ctx.sms as SandboxSmsGateway).outbox(10_000)
  return outbox.filter((m) => m.to === phone).map((m) => m.body).reverse()
}

async function reminderRows(server: TestServer, serial: string) {
  return await server.ctx.db.selectFrom('expiry_reminder').selectAll().where('certificate_serial', '=', serial).orderBy('days_before', 'desc').execute()
}

const koreanDate = (at: Date) => new Date(at.getTime() + 9 * 3600_000).toISOString().slice(0, 10)
const text = (server: TestServer, when: string, notAfter: Date) =>
  `[우체국 금융인증서] 인증서가 ${when}(${koreanDate(notAfter)}) 만료됩니다. 갱신: ${server.issuer}/account`

/** A gateway that records the idempotency key of every message handed to it, then sends it on. */
function recording(sms: SmsGateway, keys: string[]): SmsGateway {
  return { kind: sms.kind, send: async (to, body, options) => { keys.push(options?.idempotencyKey ?? ''); await sms.send(to, body, options) } }
}

/** Moves the clock forward to `days` before `notAfter`. */
function daysBefore(clock: ManualClock, notAfter: Date, days: number): void {
  const target = notAfter.getTime() - days * DAY * 1000
  assert.ok(target >= clock.now().getTime(), 'the clock only moves forward')
  clock.advance((target - clock.now().getTime()) / 1000)
}

/** Calls `each` once a day, at the certificate's time of day, from 31 days before expiry to the day after. */
async function daily(clock: ManualClock, notAfter: Date, each: (daysLeft: number) => Promise<void>): Promise<void> {
  for (let left = 31; left >= -1; left--) {
    daysBefore(clock, notAfter, left)
    await each(left)
  }
}

for (const backend of BACKENDS) {
  describe(`expiry reminders (${backend})`, () => {
    let server: TestServer
    // 09:00 in Korea: at the same time of day, "days left" is the same in hours and in calendar days.
    const clock = new ManualClock(new Date('2026-12-01T00:00:00Z'))
    const reminders = (sms: SmsGateway = server.ctx.sms) => new ExpiryReminders({ db: server.ctx.db, clock, sms, issuer: server.issuer, service: '우체국 금융인증서' })

    before(async () => { server = await startTestServer({ backend, env: ENV, overrides: { clock } }) })
    after(async () => { await server.close() })
    // Every certificate of the tests before has expired.
    beforeEach(() => { clock.advance((VALIDITY_DAYS + 1) * DAY) })

    it('sends the 30-, 7- and 1-day reminders once each, on their days, across restarts', async () => {
      const s = await subscriber(server)
      const sentOn: number[] = []
      await daily(clock, s.certificate.notAfter, async (left) => {
        // A new instance for every run, as after a restart; a second run the same day finds nothing.
        const sent = await reminders().run()
        assert.equal(await reminders().run(), 0, `day ${left}: nothing twice`)
        for (let i = 0; i < sent; i++) sentOn.push(left)
      })
      assert.deepEqual(sentOn, [30, 7, 1])
      const notAfter = s.certificate.notAfter
      assert.deepEqual(await inbox(server, s.phone), [text(server, '30일 후', notAfter), text(server, '7일 후', notAfter), text(server, '1일 후', notAfter)])
      const rows = await reminderRows(server, s.certificate.serial)
      assert.deepEqual(rows.map((r) => [r.days_before, r.sent_at !== null]), [[30, true], [7, true], [1, true]])
    })

    it('sends nothing for revoked or renewed certificates, and nothing while a certificate is held', async () => {
      const [revoked, renewed, held, plain] = [await subscriber(server), await subscriber(server), await subscriber(server), await subscriber(server)]
      await server.ctx.authority.revoke(revoked.certificate.serial, 'keyCompromise')
      await server.ctx.authority.suspend(held.certificate.serial)
      let successor = ''
      await daily(clock, plain.certificate.notAfter, async (left) => {
        if (left === 30) {
          // Renewal opens 30 days before expiry; this subscriber renews before the day's run.
          const key = subscriberKey()
          const proof = signChallenge(key, await server.ctx.authority.createChallenge())
          successor = (await server.ctx.authority.renew({ serial: renewed.certificate.serial, spki: key.spki, proof })).serial
        }
        if (left === 10) await server.ctx.authority.resume(held.certificate.serial)
        await reminders().run()
      })
      assert.deepEqual(await inbox(server, revoked.phone), [])
      assert.deepEqual(await inbox(server, renewed.phone), [], 'the old certificate is replaced; the new one expires 40 days later')
      // Resumed with 10 days left: the 30-day reminder is still the current one.
      const notAfter = held.certificate.notAfter
      assert.deepEqual(await inbox(server, held.phone), [text(server, '10일 후', notAfter), text(server, '7일 후', notAfter), text(server, '1일 후', notAfter)])
      assert.equal((await inbox(server, plain.phone)).length, 3)
      await server.ctx.authority.revoke(successor, 'cessationOfOperation') // out of the next tests' way
    })

    it('sends a reminder missed while the job was down late while it is current, never once the next is due', async () => {
      const late = await subscriber(server)
      const notAfter = late.certificate.notAfter
      daysBefore(clock, notAfter, 20)
      assert.equal(await reminders().run(), 1)
      daysBefore(clock, notAfter, 5)
      assert.equal(await reminders().run(), 1)
      daysBefore(clock, notAfter, 0.5) // 21:00 in Korea, the day before expiry
      assert.equal(await reminders().run(), 1)
      assert.deepEqual(await inbox(server, late.phone), [text(server, '20일 후', notAfter), text(server, '5일 후', notAfter), text(server, '1일 후', notAfter)])

      clock.advance(DAY)
      const skipped = await subscriber(server)
      daysBefore(clock, skipped.certificate.notAfter, 5)
      assert.equal(await reminders().run(), 1)
      assert.deepEqual(await inbox(server, skipped.phone), [text(server, '5일 후', skipped.certificate.notAfter)])
      assert.deepEqual((await reminderRows(server, skipped.certificate.serial)).map((r) => r.days_before), [7], 'the 30-day reminder is skipped, not sent late')
    })

    it('two instances running at the same time send each reminder once', async () => {
      const subscribers = await Promise.all(Array.from({ length: 12 }, () => subscriber(server)))
      let total = 0
      // The gateway would drop a second copy: count what reaches it, to see that only one instance sent.
      const keys: string[] = []
      await daily(clock, subscribers[0]!.certificate.notAfter, async () => {
        const [a, b] = await Promise.all([reminders(recording(server.ctx.sms, keys)).run(), reminders(recording(server.ctx.sms, keys)).run()])
        total += a + b
      })
      assert.equal(total, 36)
      assert.equal(keys.length, 36)
      assert.equal(new Set(keys).size, 36)
      for (const s of subscribers) assert.equal((await inbox(server, s.phone)).length, 3, s.phone)
    })

    it('reads due certificates a hundred at a time, to the last', async () => {
      // Ten at a time: 205 issuances at once queue on the pool past its connect timeout on a busy machine.
      const subscribers: Awaited<ReturnType<typeof subscriber>>[] = []
      while (subscribers.length < 205) subscribers.push(...await Promise.all(Array.from({ length: Math.min(10, 205 - subscribers.length) }, () => subscriber(server))))
      daysBefore(clock, subscribers[0]!.certificate.notAfter, 30)
      assert.equal(await reminders().run(), 205)
      for (const s of subscribers) assert.equal((await inbox(server, s.phone)).length, 1, s.phone)
    })

    it('takes over a claim left unsent by an instance that died, once it is stale, and delivers it once', async () => {
      const s = await subscriber(server)
      daysBefore(clock, s.certificate.notAfter, 30)
      await server.ctx.db.insertInto('expiry_reminder')
        .values({ certificate_serial: s.certificate.serial, days_before: 30, claimed_at: new Date(clock.now().getTime() - 60_000), sent_at: null }).execute()
      assert.equal(await reminders().run(), 0, 'a claim a minute old may still be sending')
      clock.advance(REMINDER_CLAIM_STALE_SECONDS)
      const keys: string[] = []
      const [a, b] = await Promise.all([reminders(recording(server.ctx.sms, keys)).run(), reminders(recording(server.ctx.sms, keys)).run()])
      assert.equal(a + b, 1)
      assert.deepEqual(keys, [`expiry:${s.certificate.serial}:30`], 'one instance took it over')
      assert.deepEqual(await inbox(server, s.phone), [text(server, '30일 후', s.certificate.notAfter)])
      assert.notEqual((await reminderRows(server, s.certificate.serial))[0]!.sent_at, null)
      clock.advance(REMINDER_CLAIM_STALE_SECONDS)
      assert.equal(await reminders().run(), 0)
    })

    it('retries a send whose answer was lost under the same idempotency key: the subscriber gets one text', async () => {
      const sandbox = server.ctx.sms
      let lose = true
      const lossy: SmsGateway = {
        kind: 'sandbox',
        async send(to, body, options) {
          await sandbox.send(to, body, options)
          if (lose) { lose = false; throw new SmsDeliveryError('the SMS gateway did not accept the message (timeout)') }
        },
      }
      const s = await subscriber(server)
      daysBefore(clock, s.certificate.notAfter, 7)
      assert.equal(await reminders(lossy).run(), 0)
      assert.equal((await inbox(server, s.phone)).length, 1, 'the gateway took it')
      assert.equal((await reminderRows(server, s.certificate.serial))[0]!.sent_at, null)
      assert.equal(await reminders().run(), 0, 'the claim is fresh')
      clock.advance(REMINDER_CLAIM_STALE_SECONDS)
      assert.equal(await reminders().run(), 1)
      assert.deepEqual(await inbox(server, s.phone), [text(server, '7일 후', s.certificate.notAfter)], 'the second copy was dropped')
      assert.notEqual((await reminderRows(server, s.certificate.serial))[0]!.sent_at, null)
    })

    it('stops a run at a failed send; the others go out next run, the failed one once its claim is stale', async () => {
      const [a, b] = [await subscriber(server), await subscriber(server)]
      let calls = 0
      const down: SmsGateway = { kind: 'http', send: async () => { calls++; throw new SmsDeliveryError('the SMS gateway did not accept the message (HTTP 503)') } }
      daysBefore(clock, a.certificate.notAfter, 1)
      assert.equal(await reminders(down).run(), 0)
      assert.equal(calls, 1, 'no second try against a gateway that is down')
      assert.equal(await reminders().run(), 1)
      clock.advance(REMINDER_CLAIM_STALE_SECONDS)
      assert.equal(await reminders().run(), 1)
      for (const s of [a, b]) assert.deepEqual(await inbox(server, s.phone), [text(server, '1일 후', s.certificate.notAfter)])
    })
  })
}

describe('expiry reminders from two server contexts on one PostgreSQL schema', { skip: NEEDS_POSTGRES }, () => {
  let first: TestServer
  let second: TestServer
  const clock = new ManualClock(new Date('2026-12-01T00:00:00Z'))
  const keys: string[] = []
  const reminders = (server: TestServer) => new ExpiryReminders({ db: server.ctx.db, clock, sms: recording(server.ctx.sms, keys), issuer: server.ctx.config.issuer, service: server.ctx.config.brand.ko.service })
  const both = async () => (await Promise.all([reminders(first).run(), reminders(second).run()])).reduce((x, y) => x + y)
  beforeEach(() => { keys.length = 0 })

  before(async () => {
    first = await startTestServer({ backend: 'postgres', env: ENV, overrides: { clock } })
    // Its own connection pool on the first one's schema, behind the same issuer.
    const db = connectDatabase({ kind: 'postgres', url: first.database.url! })
    second = await startTestServer({
      database: { ...first.database, db, drop: () => db.destroy(), dropData: async () => {} },
      masterKey: first.masterKey, env: { ...ENV, PUBLIC_URL: first.issuer }, overrides: { clock },
    })
  })
  after(async () => {
    await second?.close()
    await first?.close()
  })

  it('send each reminder once, day by day', async () => {
    const subscribers = await Promise.all(Array.from({ length: 10 }, () => subscriber(first)))
    let total = 0
    await daily(clock, subscribers[0]!.certificate.notAfter, async () => { total += await both() })
    assert.equal(total, 30)
    assert.equal(new Set(keys).size, keys.length, 'no message handed to the gateway twice')
    for (const s of subscribers) assert.equal((await inbox(first, s.phone)).length, 3, s.phone)
  })

  it('take over stale claims once between them', async () => {
    clock.advance((VALIDITY_DAYS + 1) * DAY)
    const subscribers = await Promise.all(Array.from({ length: 10 }, () => subscriber(first)))
    daysBefore(clock, subscribers[0]!.certificate.notAfter, 7)
    await first.ctx.db.insertInto('expiry_reminder').values(subscribers.map((s) => ({
      certificate_serial: s.certificate.serial, days_before: 7, claimed_at: new Date(clock.now().getTime() - (REMINDER_CLAIM_STALE_SECONDS + 1) * 1000), sent_at: null,
    }))).execute()
    assert.equal(await both(), 10)
    assert.equal(keys.length, 10, 'each stale claim taken over by one instance')
    for (const s of subscribers) assert.deepEqual(await inbox(first, s.phone), [text(first, '7일 후', s.certificate.notAfter)])
  })
})

describe('reminder text', () => {
  const issuer = 'https://id.postcert.test'
  it('counts Korean calendar days and says 오늘 on the day itself', () => {
    // Expires 2027-01-05 10:00 in Korea.
    const notAfter = new Date('2027-01-05T01:00:00Z')
    assert.equal(reminderText(notAfter, new Date('2026-12-29T14:00:00Z'), issuer, '우체국 금융인증서'), // 23:00, 29 December
      '[우체국 금융인증서] 인증서가 7일 후(2027-01-05) 만료됩니다. 갱신: https://id.postcert.test/account')
    assert.match(reminderText(notAfter, new Date('2026-12-29T16:00:00Z'), issuer, '우체국 금융인증서'), /인증서가 6일 후\(2027-01-05\)/) // 01:00, 30 December
    assert.match(reminderText(notAfter, new Date('2027-01-04T16:00:00Z'), issuer, '우체국 금융인증서'), /인증서가 오늘\(2027-01-05\) 만료됩니다/)
  })
})

describe('HTTP SMS gateway idempotency key', () => {
  it('sends the key as an Idempotency-Key header, the same on a retry, and no header without one', async () => {
    const seen: (string | undefined)[] = []
    const statuses = [502, 200, 200]
    const provider = http.createServer((req, res) => {
      seen.push(req.headers['idempotency-key'] as string | undefined)
      req.resume().on('end', () => res.writeHead(statuses[seen.length - 1] ?? 200).end('{}'))
    })
    await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve))
    try {
      const gateway = new HttpSmsGateway(`http://127.0.0.1:${(provider.address() as AddressInfo).port}/`, 't')
      await gateway.send('+821012345678', 'hello', { idempotencyKey: 'expiry:1a2b:7' })
      await gateway.send('+821012345678', 'code')
      assert.deepEqual(seen, ['expiry:1a2b:7', 'expiry:1a2b:7', undefined])
    } finally {
      await new Promise((resolve) => provider.close(resolve))
    }
  })
})
