import assert from 'node:assert/strict'
import { createSecretKey, randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { OTP_MAX_ATTEMPTS, OTP_RESEND_INTERVAL, OTP_TTL, SMS_PER_NUMBER_PER_HOUR } from '../../src/phone/constants.ts'
import { PhoneCodes, smsBudget } from '../../src/phone/phone-codes.ts'
import { SmsDeliveryError, type SmsGateway } from '../../src/phone/sms/sms-gateway.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { RateLimiter } from '../../src/util/rate-limiter.ts'
import { BACKENDS, createTestDatabase, migrateTestDatabase, type TestDatabase } from '../helpers/db.ts'

/** A gateway that keeps what it was asked to send, and can be switched off. */
class RecordingGateway implements SmsGateway {
  readonly kind = 'sandbox' as const
  readonly sent: { to: string; body: string }[] = []
  down = false
  async send(to: string, body: string): Promise<void> {
    if (this.down) throw new SmsDeliveryError('the gateway is down')
    this.sent.push({ to, body })
  }

  lastCode(): string {
    return /(\d{6})/.exec(this.sent.at(-1)!.body)![1]!
  }
}

// A number per test: each has its own hourly budget.
let numbers = 0
const newNumber = () => `+8210${String(40_000_000 + ++numbers).padStart(8, '0')}`
const wrong = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0')
const rejects = async (promise: Promise<unknown>, code: string) => await assert.rejects(promise, (err: { code?: string }) => err.code === code)

for (const backend of BACKENDS) {
  describe(`the phone-code library (${backend})`, () => {
    let database: TestDatabase
    let codes: PhoneCodes
    let limiter: RateLimiter
    const clock = new ManualClock()
    const gateway = new RecordingGateway()
    // Each test its own owner: they share the table, as enrollments and sessions do.
    const owner = () => randomBytes(8).toString('hex')
    const noop = async () => 'verified'

    before(async () => {
      database = await createTestDatabase(backend)
      await migrateTestDatabase(database)
      limiter = new RateLimiter(database.db, clock)
      codes = new PhoneCodes({ db: database.db, clock, sms: gateway, limiter, key: createSecretKey(randomBytes(32)), service: { ko: '우체국 금융인증서', en: 'Post Office Financial Certificate' } })
    })
    after(async () => { await database.drop() })

    it('texts a six-digit code with the purpose\'s text, and the right code verifies once', async () => {
      const id = owner()
      const PHONE = newNumber()
      await codes.send('enroll', id, PHONE)
      assert.equal(gateway.sent.at(-1)!.to, PHONE)
      assert.match(gateway.sent.at(-1)!.body, /^\[우체국 금융인증서\] 인증번호 \d{6} /)
      const code = gateway.lastCode()
      assert.equal(await codes.verify('enroll', id, ` ${code.slice(0, 3)} ${code.slice(3)} `, async (_trx, phone) => phone), PHONE, 'spaces are ignored; the verified number comes back')
      await rejects(codes.verify('enroll', id, code, noop), 'code_not_sent')
      await codes.send('portal', owner(), PHONE)
      assert.match(gateway.sent.at(-1)!.body, /갱신 인증번호/, 'the portal\'s text says renewal')
    })

    it('a code is bound to its purpose and owner: another owner\'s or purpose\'s code does not verify', async () => {
      const [a, b] = [owner(), owner()]
      const PHONE = newNumber()
      await codes.send('enroll', a, PHONE)
      const codeOfA = gateway.lastCode()
      await codes.send('enroll', b, PHONE)
      const codeOfB = gateway.lastCode()
      if (codeOfA !== codeOfB) await rejects(codes.verify('enroll', b, codeOfA, noop), 'code_wrong')
      await rejects(codes.verify('portal', a, codeOfA, noop), 'code_not_sent')
      assert.equal(await codes.verify('enroll', a, codeOfA, noop), 'verified')
    })

    it('counts each try before it compares, and the fifth wrong try kills the code', async () => {
      const id = owner()
      const PHONE = newNumber()
      await codes.send('enroll', id, PHONE)
      const code = gateway.lastCode()
      for (let left = OTP_MAX_ATTEMPTS - 1; left > 0; left--) {
        await assert.rejects(codes.verify('enroll', id, wrong(code), noop), (err: { code?: string; params?: { left?: number } }) => err.code === 'code_wrong' && err.params?.left === left)
      }
      await rejects(codes.verify('enroll', id, wrong(code), noop), 'code_exhausted')
      await rejects(codes.verify('enroll', id, code, noop), 'code_exhausted')
      await rejects(codes.verify('enroll', id, 'abcdef', noop), 'code_format')
    })

    it('a typo is not a guess: what is not six digits (once spaces and hyphens are gone) is refused without taking a try (#17)', async () => {
      const id = owner()
      const PHONE = newNumber()
      await codes.send('enroll', id, PHONE)
      const code = gateway.lastCode()
      for (const typo of ['12a456', '12345', '1234567', '', 'abcdef', `${code.slice(0, 3)}.${code.slice(3)}`]) {
        await assert.rejects(codes.verify('enroll', id, typo, noop), (err: { code?: string; field?: string }) => err.code === 'code_format' && err.field === 'code', typo)
      }
      const row = await database.db.selectFrom('phone_code').select('attempts').where('purpose', '=', 'enroll').where('owner', '=', id).executeTakeFirstOrThrow()
      assert.equal(row.attempts, 0, 'no try was taken')
      assert.equal(await codes.verify('enroll', id, `${code.slice(0, 3)}-${code.slice(3)}`, noop), 'verified', 'a hyphen is fine')
    })

    it('of parallel guesses no more than five are compared, and a right one among them verifies at most once', async () => {
      const id = owner()
      const PHONE = newNumber()
      await codes.send('enroll', id, PHONE)
      const code = gateway.lastCode()
      const results = await Promise.allSettled([...Array.from({ length: 12 }, () => codes.verify('enroll', id, wrong(code), noop)), codes.verify('enroll', id, code, noop), codes.verify('enroll', id, code, noop)])
      assert.ok(results.filter((r) => r.status === 'fulfilled').length <= 1)
      const row = await database.db.selectFrom('phone_code').select('attempts').where('purpose', '=', 'enroll').where('owner', '=', id).executeTakeFirstOrThrow()
      assert.equal(row.attempts, OTP_MAX_ATTEMPTS)
    })

    it('refuses an expired code', async () => {
      const id = owner()
      const PHONE = newNumber()
      await codes.send('enroll', id, PHONE)
      clock.advance(OTP_TTL)
      await rejects(codes.verify('enroll', id, gateway.lastCode(), noop), 'code_expired')
    })

    it('refuses a resend within the interval, even two at once; a new code replaces the old one', async () => {
      const id = owner()
      const PHONE = newNumber()
      await codes.send('enroll', id, PHONE)
      const first = gateway.lastCode()
      const sentBefore = gateway.sent.length
      await rejects(codes.send('enroll', id, PHONE), 'resend_too_soon')
      clock.advance(OTP_RESEND_INTERVAL)
      const both = await Promise.allSettled([codes.send('enroll', id, PHONE), codes.send('enroll', id, PHONE)])
      assert.equal(both.filter((r) => r.status === 'fulfilled').length, 1, 'one of two sends at once')
      assert.equal(gateway.sent.length, sentBefore + 1, 'one more text, not two')
      if (first !== gateway.lastCode()) await rejects(codes.verify('enroll', id, first, noop), 'code_wrong')
      assert.equal(await codes.verify('enroll', id, gateway.lastCode(), noop), 'verified')
    })

    it('a failed text is withdrawn and not counted: the subscriber may ask again at once', async () => {
      const id = owner()
      const phone = newNumber()
      gateway.down = true
      try {
        await rejects(codes.send('portal', id, phone), 'provider_unavailable')
      } finally {
        gateway.down = false
      }
      assert.equal(await codes.pending('portal', id), undefined)
      assert.equal((await limiter.hit(smsBudget('portal', phone), SMS_PER_NUMBER_PER_HOUR, 3600)).allowed, true)
      await limiter.undo(smsBudget('portal', phone), 3600)
      await codes.send('portal', id, phone)
    })

    it('counts texts per number and purpose: one purpose\'s budget spent leaves the other\'s', async () => {
      const phone = newNumber()
      for (let i = 0; i < SMS_PER_NUMBER_PER_HOUR; i++) await codes.send('enroll', owner(), phone)
      await rejects(codes.send('enroll', owner(), phone), 'rate_limited')
      await codes.send('portal', owner(), phone)
    })

    it('the spend and the caller\'s step are one transaction: a step that fails leaves the code unspent', async () => {
      const id = owner()
      const PHONE = newNumber()
      await codes.send('enroll', id, PHONE)
      const code = gateway.lastCode()
      await assert.rejects(codes.verify('enroll', id, code, async () => { throw new Error('the step failed') }), /the step failed/)
      assert.equal(await codes.verify('enroll', id, code, noop), 'verified')
    })

    it('sweeps expired codes', async () => {
      const id = owner()
      const PHONE = newNumber()
      await codes.send('enroll', id, PHONE)
      clock.advance(OTP_TTL)
      assert.ok(await codes.sweep() >= 1)
      assert.equal(await codes.pending('enroll', id), undefined)
    })
  })
}
