import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { CaError } from '../../src/ca/errors.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { issueCertificate, signChallenge, subscriberKey } from '../helpers/pki.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

/** A CA refusal of this kind. */
const isCaError = (kind: CaError['kind']) => (err: unknown) => err instanceof CaError && err.kind === kind

const DAY = 86_400

describe('certificate lifecycle with a fixed clock', () => {
  let server: TestServer
  const clock = new ManualClock(new Date('2026-11-25T09:00:00Z'))

  before(async () => { server = await startTestServer({ overrides: { clock } }) })
  after(async () => { await server.close() })

  async function renew(serial: string) {
    const key = subscriberKey()
    const challenge = await server.ctx.authority.createChallenge()
    return await server.ctx.authority.renew({ serial, spki: key.spki, proof: signChallenge(key, challenge) })
  }

  // Seconds relative to the certificate's notAfter at which renewal is asked for, and the outcome.
  const table: [string, number, 'refused-early' | 'accepted' | 'refused-expired'][] = [
    ['31 days before expiry', -31 * DAY, 'refused-early'],
    ['30 days and 1 second before expiry', -30 * DAY - 1, 'refused-early'],
    ['exactly 30 days before expiry', -30 * DAY, 'accepted'],
    ['10 days before expiry', -10 * DAY, 'accepted'],
    ['1 second before expiry', -1, 'accepted'],
    ['at expiry', 0, 'refused-expired'],
    ['a day after expiry', DAY, 'refused-expired'],
  ]
  for (const [when, offset, outcome] of table) {
    it(`renewal ${when}: ${outcome}`, async () => {
      const start = clock.now()
      const { certificate } = await issueCertificate(server.ctx.authority)
      clock.advance((certificate.notAfter.getTime() - clock.now().getTime()) / 1000 + offset)
      try {
        if (outcome === 'accepted') {
          const renewed = await renew(certificate.serial)
          assert.equal(renewed.subscriberId, certificate.subscriberId)
          assert.equal(renewed.notAfter.getTime(), certificate.notAfter.getTime() + 365 * DAY * 1000, 'one more year past the old expiry')
          assert.equal(renewed.notBefore.getTime(), Math.floor(clock.now().getTime() / 1000) * 1000)
          const old = (await server.ctx.authority.find(certificate.serial))!
          assert.equal(old.status, 'revoked')
          assert.equal(old.revocationReason, 'superseded')
          assert.equal(old.replacedBy, renewed.serial)
          assert.equal((await server.ctx.judgeCertificate(renewed.der)).valid, true)
          assert.deepEqual(await server.ctx.judgeCertificate(certificate.der).then((v) => !v.valid && v.reason), 'revoked')
        } else {
          await assert.rejects(renew(certificate.serial), (err: CaError & { opensAt?: Date }) => {
            assert.ok(isCaError('renewal_not_allowed')(err))
            if (outcome === 'refused-early') {
              const opens = new Date(certificate.notAfter.getTime() - 30 * DAY * 1000)
              assert.equal(err.opensAt?.getTime(), opens.getTime())
              assert.match(err.description, new RegExp(`opens on ${opens.toISOString()}`))
            } else {
              assert.match(err.description, /no longer possible, a new certificate must be issued \(reissue\)/)
            }
            return true
          })
          assert.equal((await server.ctx.authority.find(certificate.serial))!.status, 'good', 'a refused renewal changes nothing')
        }
      } finally {
        clock.advance((start.getTime() - clock.now().getTime()) / 1000)
      }
    })
  }

  it('refuses to renew the same certificate twice', async () => {
    const { certificate } = await issueCertificate(server.ctx.authority)
    clock.advance(340 * DAY)
    try {
      const results = await Promise.allSettled([renew(certificate.serial), renew(certificate.serial)])
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
      const failure = results.find((r) => r.status === 'rejected') as PromiseRejectedResult
      assert.ok(isCaError('invalid_certificate_state')(failure.reason))
    } finally {
      clock.advance(-340 * DAY)
    }
  })

  it('reissue revokes every earlier certificate of the subscriber', async () => {
    const subscriberId = `reissue-${Date.now()}`
    // Reissue serializes on the subscriber's row, as enrollment leaves it.
    await server.ctx.db.insertInto('subscriber').values({
      id: subscriberId, ci: `ci-${subscriberId}`, name: '홍길동', birthdate: '1990-01-01', phone_e164: '+821000000009',
      document_type: 'resident_card', document_last_digits: '0009', created_at: new Date(), updated_at: new Date(),
    }).execute()
    const passkey = await issueCertificate(server.ctx.authority, { subscriberId, holder: 'passkey' })
    const file = await issueCertificate(server.ctx.authority, { subscriberId, holder: 'file' })
    const other = await issueCertificate(server.ctx.authority)
    const key = subscriberKey()
    const { certificate, revoked } = await server.ctx.authority.reissue({
      subscriberId, displayName: '홍길동', holder: 'file', spki: key.spki, proof: signChallenge(key, await server.ctx.authority.createChallenge()),
    })
    assert.deepEqual(revoked.sort(), [passkey.certificate.serial, file.certificate.serial].sort())
    for (const serial of revoked) {
      const record = (await server.ctx.authority.find(serial))!
      assert.equal(record.status, 'revoked')
      assert.equal(record.revocationReason, 'superseded')
      assert.equal(record.replacedBy, certificate.serial)
    }
    assert.equal((await server.ctx.authority.find(other.certificate.serial))!.status, 'good', 'other subscribers are untouched')
    assert.equal((await server.ctx.authority.find(certificate.serial))!.status, 'good')
  })

  it('suspends and resumes; refuses what does not apply', async () => {
    const { certificate } = await issueCertificate(server.ctx.authority)
    const authority = server.ctx.authority
    await assert.rejects(authority.resume(certificate.serial), isCaError('invalid_certificate_state'))
    await authority.suspend(certificate.serial)
    assert.deepEqual(await server.ctx.judgeCertificate(certificate.der).then((v) => !v.valid && v.reason), 'suspended')
    await assert.rejects(authority.suspend(certificate.serial), isCaError('invalid_certificate_state'))
    await authority.resume(certificate.serial)
    assert.equal((await server.ctx.judgeCertificate(certificate.der)).valid, true)
    await authority.revoke(certificate.serial, 'keyCompromise')
    await assert.rejects(authority.revoke(certificate.serial, 'unspecified'), isCaError('invalid_certificate_state'))
    await assert.rejects(authority.suspend(certificate.serial), isCaError('invalid_certificate_state'))
    await assert.rejects(authority.revoke(certificate.serial, 'certificateHold' as never), isCaError('invalid_certificate_state'))
  })

  it('records every change in the audit log, which refuses edits', async () => {
    const { certificate } = await issueCertificate(server.ctx.authority)
    await server.ctx.authority.revoke(certificate.serial, 'keyCompromise')
    const events = await server.ctx.db.selectFrom('audit_event').select(['type', 'data']).where('certificate_serial', '=', certificate.serial).orderBy('id').execute()
    assert.deepEqual(events.map((e) => e.type), ['certificate.issued', 'certificate.revoked'])
    assert.deepEqual(JSON.parse(events[1]!.data), { reason: 'keyCompromise' })
    // Even the tables' owner: the triggers refuse (the server's own role has no such grant: roles.test.ts).
    const owner = server.database.ownerDb ?? server.ctx.db
    await assert.rejects(owner.updateTable('audit_event').set({ type: 'x' }).execute(), /append-only/)
    await assert.rejects(owner.deleteFrom('audit_event').execute(), /append-only/)
    await assert.rejects(sql`truncate audit_event`.execute(owner), /append-only/)
    await assert.rejects(sql`truncate signature`.execute(owner), /append-only/)
  })
})
