import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { ManualClock } from '../../src/util/clock.ts'
import { subscriberKey } from '../helpers/pki.ts'
import { LoginHarness } from './harness.ts'
import { loginSuite } from '../helpers/suite.ts'

describe('failed proofs: a stranger cannot lock a holder out; an address that keeps failing is refused', () => {
  let rp: Awaited<ReturnType<LoginHarness['relyingParty']>>
  const clock = new ManualClock()
  const { h } = loginSuite(clock)
  before(async () => {
    rp = await h.relyingParty({ name: '잠금은행', redirectUri: 'https://lockout.example.kr/cb' })
  })

  it('proofs signed with another key (anyone can fetch the certificate) do not count against it: the holder still logs in', async () => {
    const victim = await h.subscriber()
    const forged = { ...victim, key: subscriberKey() }
    for (let i = 0; i < 8; i++) {
      const { response } = await h.prove(await h.begin(rp), forged)
      assert.equal(response.status, 400)
      assert.equal(response.body.error, 'invalid_proof')
    }
    assert.equal((await h.prove(await h.begin(rp), victim)).response.status, 200, 'not locked out')
  })

  it('an address with thirty failed proofs is refused for a while, whatever the certificate, then let in again', async () => {
    clock.advance(15 * 60) // a window of its own
    const victim = await h.subscriber()
    const forged = { ...victim, key: subscriberKey() }
    for (let i = 0; i < 30; i++) assert.equal((await h.prove(await h.begin(rp), forged)).response.body.error, 'invalid_proof', `try ${i + 1}`)
    const refused = await h.prove(await h.begin(rp), await h.subscriber())
    assert.equal(refused.response.status, 429)
    assert.equal(refused.response.body.error, 'too_many_attempts')
    clock.advance(15 * 60)
    assert.equal((await h.prove(await h.begin(rp), victim)).response.status, 200)
  })

  it('forty failed proofs at once from one address: thirty are evaluated, the rest refused (counted before deciding)', async () => {
    clock.advance(15 * 60)
    const victim = await h.subscriber()
    const forged = { ...victim, key: subscriberKey() }
    const flows = []
    for (let i = 0; i < 40; i++) flows.push(await h.begin(rp))
    const answers = await Promise.all(flows.map(async (flow) => (await h.prove(flow, forged)).response.body.error as string))
    const count = (error: string) => answers.filter((a) => a === error).length
    assert.equal(count('invalid_proof'), 30, answers.join(' '))
    assert.equal(count('too_many_attempts'), 10)
  })

  it('successful proofs do not use up the address\'s allowance: thirty-five logins in a row', async () => {
    clock.advance(15 * 60)
    const holder = await h.subscriber()
    for (let i = 0; i < 35; i++) assert.equal((await h.prove(await h.begin(rp), holder)).response.status, 200, `login ${i + 1}`)
    const forged = { ...holder, key: subscriberKey() }
    assert.equal((await h.prove(await h.begin(rp), forged)).response.body.error, 'invalid_proof', 'and failures are still counted from zero')
  })
})
