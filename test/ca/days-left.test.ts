import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { calendarDaysLeft, daysLeft } from '../../src/ca/days-left.ts'
import { koreanDate } from '../../src/util/korean-time.ts'

const at = (iso: string) => new Date(iso)

describe('days left, the two ways PostCert says it', () => {
  it('whole days rounded up, never below 0', () => {
    assert.equal(daysLeft(at('2026-12-31T00:00:00Z'), at('2026-12-01T00:00:00Z')), 30)
    assert.equal(daysLeft(at('2026-12-01T01:00:00Z'), at('2026-12-01T00:00:00Z')), 1, 'an hour left is a day')
    assert.equal(daysLeft(at('2026-12-01T00:00:00Z'), at('2026-12-01T00:00:00Z')), 0)
    assert.equal(daysLeft(at('2026-11-01T00:00:00Z'), at('2026-12-01T00:00:00Z')), 0, 'expired')
  })

  it('Korean calendar days to the expiry date, 0 on the day itself', () => {
    // 2026-12-01 23:30 in Seoul (14:30 UTC); the certificate ends 2026-12-02 01:00 in Seoul.
    assert.equal(calendarDaysLeft(at('2026-12-01T16:00:00Z'), at('2026-12-01T14:30:00Z')), 1)
    assert.equal(daysLeft(at('2026-12-01T16:00:00Z'), at('2026-12-01T14:30:00Z')), 1)
    // 00:30 and 23:00 the same day in Seoul.
    assert.equal(calendarDaysLeft(at('2026-12-01T14:00:00Z'), at('2026-11-30T15:30:00Z')), 0)
    assert.equal(koreanDate(at('2026-11-30T15:30:00Z')), '2026-12-01', 'already the 1st in Seoul')
  })
})
