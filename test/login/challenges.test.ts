import assert from 'node:assert/strict'
import { createSecretKey, randomBytes } from 'node:crypto'
import { before, describe, it } from 'node:test'
import { CLOCK_TOLERANCE_SECONDS } from '../../src/constants.ts'
import { createLoginProof } from '../../src/holders/keyfile/login-proof.ts'
import { PossessionProofs, type PossessionDeps } from '../../src/possession/proofs.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { loginSuite } from '../helpers/suite.ts'
import type { Flow, Holder, LoginHarness } from './harness.ts'

describe('login challenges: made without writing, bound to their login by the server\'s key, single use, for 5 minutes (#19)', () => {
  let rp: Awaited<ReturnType<LoginHarness['relyingParty']>>
  const clock = new ManualClock()
  const { server, h } = loginSuite(clock)
  before(async () => {
    rp = await h.relyingParty({ name: '도전은행', redirectUri: 'https://challenges.example.kr/cb' })
  })

  const recorded = async () => (await server.ctx.db.selectFrom('login_challenge').select('hash').execute()).length
  const challengeOf = async (flow: Flow): Promise<string> => (await h.api(flow.browser, flow.csrf, `/interaction/${flow.uid}/challenge`).expect(200)).body.challenge
  /** A certificate-file proof over `challenge` for the flow's login, sent as the login page sends it. */
  const proofOver = async (flow: Flow, holder: Holder, challenge: string) => {
    const ca = await server.ctx.ca.issuing()
    return await createLoginProof(await h.webKey(holder.key), [holder.certificate.der, new Uint8Array(ca.certificate.rawData)], {
      challenge, aud: server.issuer, interaction: flow.uid, iat: Math.floor(clock.now().getTime() / 1000),
    })
  }
  const send = (flow: Flow, proof: string) => h.api(flow.browser, flow.csrf, `/interaction/${flow.uid}/login/file`, { proof })

  it('a login page and any number of challenges write nothing; the one answered is recorded', async () => {
    const before = await recorded()
    const flow = await h.begin(rp) // its page brought the first
    for (let i = 0; i < 25; i++) await challengeOf(flow)
    assert.equal(await recorded(), before, 'nothing written for 26 challenges')
    const { response } = await h.prove(flow, await h.subscriber())
    assert.equal(response.status, 200, response.text)
    assert.equal(await recorded(), before + 1, 'the one used')
  })

  it('refuses a challenge altered anywhere, in another encoding of its bytes, made under another key, or another login\'s', async () => {
    const holder = await h.subscriber()
    const flow = await h.begin(rp)
    const challenge = await challengeOf(flow)
    const bytes = Buffer.from(challenge, 'base64url')
    const flipped = (at: number) => {
      const altered = Buffer.from(bytes)
      altered[at]! ^= 1
      return altered.toString('base64url')
    }
    // The last character carries two bits the bytes do not use: another string for the same bytes.
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const reencoded = challenge.slice(0, -1) + alphabet[alphabet.indexOf(challenge.at(-1)!) ^ 1]
    assert.ok(Buffer.from(reencoded, 'base64url').equals(bytes), 'the same bytes')
    const underAnotherKey = new PossessionProofs({ clock, issuer: server.issuer, challengeKey: createSecretKey(randomBytes(32)) } as unknown as PossessionDeps).createChallenge(flow.uid)
    const other = await h.begin(rp)
    const cases = {
      'its version': flipped(0), 'its expiry': flipped(4), 'its nonce': flipped(10), 'its MAC': flipped(bytes.length - 1),
      'another encoding': reencoded, 'another key': underAnotherKey, 'another login\'s': await challengeOf(other),
      'cut short': challenge.slice(0, -2), 'longer': `${challenge}AA`,
    }
    for (const [name, variant] of Object.entries(cases)) {
      const refused = await send(flow, await proofOver(flow, holder, variant))
      assert.equal(refused.status, 400, name)
      assert.equal(refused.body.error, 'challenge_invalid', name)
    }
    const accepted = await send(flow, await proofOver(flow, holder, challenge))
    assert.equal(accepted.status, 200, 'the challenge itself still works')
  })

  it('refuses a challenge answered after 5 minutes; a fresh one works', async () => {
    const holder = await h.subscriber()
    const flow = await h.begin(rp)
    const challenge = await challengeOf(flow)
    clock.advance(5 * 60)
    const late = await send(flow, await proofOver(flow, holder, challenge))
    assert.equal(late.body.error, 'challenge_invalid')
    assert.equal((await send(flow, await proofOver(flow, holder, await challengeOf(flow)))).status, 200)
  })

  it('eight proofs over one challenge at once: one is accepted, the challenge recorded once', async () => {
    const holder = await h.subscriber()
    const flow = await h.begin(rp)
    const proof = await proofOver(flow, holder, await challengeOf(flow))
    const before = await recorded()
    const answers = await Promise.all(Array.from({ length: 8 }, () => send(flow, proof)))
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 400, 400, 400, 400, 400, 400, 400])
    for (const refused of answers.filter((a) => a.status === 400)) assert.equal(refused.body.error, 'challenge_invalid')
    assert.equal(await recorded(), before + 1)
  })

  it('records a used challenge until it has expired everywhere, then the sweep removes it', async () => {
    clock.advance(5 * 60 + CLOCK_TOLERANCE_SECONDS + 1)
    await server.ctx.possession.sweep() // the earlier tests' records
    assert.equal(await recorded(), 0)
    const flow = await h.begin(rp)
    assert.equal((await h.prove(flow, await h.subscriber())).response.status, 200)
    assert.equal(await server.ctx.possession.sweep(), 0, 'nothing has expired yet')
    assert.equal(await recorded(), 1)
    clock.advance(5 * 60 + 1)
    assert.equal(await server.ctx.possession.sweep(), 0, 'kept for as long as two instances\' clocks may differ')
    clock.advance(CLOCK_TOLERANCE_SECONDS)
    assert.equal(await server.ctx.possession.sweep(), 1)
    assert.equal(await recorded(), 0)
  })
})
