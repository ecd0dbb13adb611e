import assert from 'node:assert/strict'
import { createHash, randomBytes, sign } from 'node:crypto'
import fs from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { POLICY_OIDS } from '../../src/ca/constants.ts'
import { CaError } from '../../src/ca/errors.ts'
import { toPem, x509 } from '../../src/ca/x509.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { issueCertificate, openssl, signChallenge, subscriberKey } from '../helpers/pki.ts'
import { startTestServer, tempDir, type TestServer } from '../helpers/server.ts'

/** A CA refusal of this kind. */
const isCaError = (kind: CaError['kind']) => (err: unknown) => err instanceof CaError && err.kind === kind

describe('issuance and the certificate verdict', () => {
  let server: TestServer
  const clock = new ManualClock()
  before(async () => { server = await startTestServer({ overrides: { clock } }) })
  after(async () => { await server.close() })

  const request = (key = subscriberKey(), proof?: Parameters<TestServer['ctx']['authority']['issue']>[0]['proof']) => async () => ({
    subscriberId: 'ps-issuance', displayName: 'Kim', holder: 'file' as const, spki: key.spki,
    proof: proof ?? signChallenge(key, await server.ctx.authority.createChallenge()),
  })

  for (const type of ['p256', 'p384', 'rsa2048', 'ed25519'] as const) {
    it(`certifies a ${type} key whose holder proves possession`, async () => {
      const { certificate } = await issueCertificate(server.ctx.authority, { key: subscriberKey(type) })
      assert.equal((await server.ctx.judgeCertificate(certificate.der)).valid, true)
    })
  }

  it('certifies a passkey that proves possession with a WebAuthn assertion, under the policy of its attestation', async () => {
    for (const [attested, policy] of [[true, POLICY_OIDS.passkey], [false, POLICY_OIDS.passkeyUnattested]] as const) {
      const key = subscriberKey('p256')
      const challenge = await server.ctx.authority.createChallenge()
      const authenticatorData = randomBytes(37)
      const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: challenge.toString('base64url'), origin: server.issuer }))
      const signed = Buffer.concat([authenticatorData, createHash('sha256').update(clientDataJSON).digest()])
      const certificate = await server.ctx.authority.issue({
        subscriberId: 'ps-passkey', displayName: 'Kim', holder: 'passkey', attested, spki: key.spki,
        proof: { type: 'webauthn', challenge, authenticatorData, clientDataJSON, signature: sign('sha256', signed, key.privateKey) },
      })
      // openssl reads the UUID arc in decimal (some JS parsers print arcs past 2^53 in hex).
      const dir = tempDir('postcert-passkey-')
      fs.writeFileSync(`${dir}/cert.pem`, toPem(certificate.der, 'CERTIFICATE'))
      const { output } = await openssl(['x509', '-in', `${dir}/cert.pem`, '-noout', '-text'])
      assert.ok(output.includes(`Policy: ${policy}\n`), output)
    }
  })

  it('refuses keys it does not certify', async () => {
    for (const type of ['p521', 'rsa1024'] as const) {
      await assert.rejects(server.ctx.authority.issue(await request(subscriberKey(type))()), isCaError('unsupported_key'))
    }
    await assert.rejects(server.ctx.authority.issue({ ...(await request()()), spki: Buffer.from('not a key') }), isCaError('unsupported_key'))
  })

  it('refuses a proof signed by another key, a reused challenge, and an expired one', async () => {
    const key = subscriberKey()
    const challenge = await server.ctx.authority.createChallenge()
    await assert.rejects(server.ctx.authority.issue(await request(key, signChallenge(subscriberKey(), challenge))()), isCaError('invalid_possession_proof'))
    const proof = signChallenge(key, challenge)
    await server.ctx.authority.issue(await request(key, proof)())
    await assert.rejects(server.ctx.authority.issue(await request(key, proof)()), /already used or expired/)
    const late = signChallenge(key, await server.ctx.authority.createChallenge())
    clock.advance(301)
    await assert.rejects(server.ctx.authority.issue(await request(key, late)()), /already used or expired/)
    const madeUp = signChallenge(key, randomBytes(32))
    await assert.rejects(server.ctx.authority.issue(await request(key, madeUp)()), /already used or expired/)
    assert.ok(await server.ctx.authority.sweepChallenges() >= 1, 'the expired challenge is swept')
    assert.equal(await server.ctx.authority.sweepChallenges(), 0)
  })

  it('refuses a WebAuthn proof for another challenge', async () => {
    const key = subscriberKey()
    const challenge = await server.ctx.authority.createChallenge()
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: randomBytes(32).toString('base64url') }))
    const authenticatorData = randomBytes(37)
    const signature = sign('sha256', Buffer.concat([authenticatorData, createHash('sha256').update(clientDataJSON).digest()]), key.privateKey)
    await assert.rejects(server.ctx.authority.issue(await request(key, { type: 'webauthn', challenge, authenticatorData, clientDataJSON, signature })()), /another challenge/)
  })

  it('judges a certificate: unknown, not ours, not yet valid, expired, revoked only from its revocation time', async () => {
    const { certificate } = await issueCertificate(server.ctx.authority)
    const judge = async (input: Uint8Array | string, at = clock.now()) => {
      const verdict = await server.ctx.judgeCertificate(input, at)
      return verdict.valid ? 'valid' : verdict.reason
    }
    assert.equal(await judge(certificate.der), 'valid')
    assert.equal(await judge(certificate.serial), 'valid')
    assert.equal(await judge('abcdef'), 'unknown')
    assert.equal(await judge(new Uint8Array([1, 2, 3])), 'malformed')

    // A look-alike with the same serial, signed by someone else's CA.
    const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify'])
    const forged = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: certificate.serial, name: certificate.subject, keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      notBefore: certificate.notBefore, notAfter: certificate.notAfter,
    })
    assert.equal(await judge(new Uint8Array(forged.rawData)), 'not_ours')

    assert.equal(await judge(certificate.der, new Date(certificate.notBefore.getTime() - 1000)), 'not_yet_valid')
    assert.equal(await judge(certificate.der, certificate.notAfter), 'expired')

    const beforeRevocation = clock.now()
    clock.advance(60)
    await server.ctx.authority.revoke(certificate.serial, 'keyCompromise')
    assert.equal(await judge(certificate.der), 'revoked')
    assert.equal(await judge(certificate.der, beforeRevocation), 'valid', 'a signature made before the revocation still stands')
  })
})
