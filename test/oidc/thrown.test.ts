import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as client from 'openid-client'
import { AsnConvert } from '@peculiar/asn1-schema'
import { AlgorithmIdentifier, SubjectPublicKeyInfo } from '@peculiar/asn1-x509'
import { toPem } from '../../src/ca/x509.ts'
import { parseDer } from '../../src/signing/cms-check.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { openssl } from '../helpers/pki.ts'
import { tempDir } from '../helpers/server.ts'
import { loginSuite } from '../helpers/suite.ts'
import { ThrownCounter } from '../helpers/thrown.ts'

// A request that succeeds should throw nothing on its way: each exception thrown and caught costs
// a stack capture, more than the rest of an introspection (the two found so far cost a fifth of
// its CPU and a few percent of a login's). These hold the paths at none, so that one coming back,
// in PostCert's code or with an oidc-provider upgrade, shows here rather than in a benchmark.
describe('exceptions thrown on the paths of successful requests (#19)', () => {
  const clock = new ManualClock()
  const { server, h, signing } = loginSuite(clock)
  const counter = new ThrownCounter()
  before(() => counter.start())
  after(() => counter.stop())

  it('none for a service token, its introspection and its revocation', async () => {
    const rp = await h.relyingParty({ redirectUri: 'https://thrown.example.kr/cb', scope: 'openid', grantTypes: ['authorization_code', 'client_credentials'] })
    const thrown = await counter.during(async () => {
      const { access_token } = await client.clientCredentialsGrant(rp.config)
      assert.equal((await client.tokenIntrospection(rp.config, access_token)).active, true)
      await client.tokenRevocation(rp.config, access_token)
      assert.equal((await client.tokenIntrospection(rp.config, access_token)).active, false)
    })
    assert.deepEqual(thrown, [])
  })

  it('none for a login with its consent, the code exchange, userinfo and a rotating refresh', async () => {
    const rp = await h.relyingParty({ redirectUri: 'https://thrown-login.example.kr/cb', scope: 'openid offline_access', grantTypes: ['authorization_code', 'refresh_token'] })
    const holder = await h.subscriber()
    const thrown = await counter.during(async () => {
      const { tokens } = await h.login(rp, holder, { scope: 'openid offline_access', prompt: 'consent' })
      assert.ok((await client.fetchUserInfo(rp.config, tokens.access_token, client.skipSubjectCheck)).sub)
      const rotated = await client.refreshTokenGrant(rp.config, tokens.refresh_token!)
      assert.equal((await client.tokenIntrospection(rp.config, rotated.access_token)).active, true)
    })
    assert.deepEqual(thrown, [])
  })

  it('none for an electronic signature, its evidence fetched by the institution and verified', async () => {
    const rp = await h.relyingParty({ name: 'Thrown Bank', redirectUri: 'https://thrown-sign.example.kr/cb' })
    const holder = await h.subscriber()
    const thrown = await counter.during(async () => {
      const { evidence, tokens } = await signing.sign(rp, holder)
      const own = await fetch(`${server.url}/signatures/${evidence.signature_id}`, { headers: { authorization: `Bearer ${tokens.access_token}` } })
      assert.equal(own.status, 200)
      const verified = await fetch(`${server.url}/signatures/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(await own.json()) })
      assert.equal(verified.status, 200)
      assert.equal((await verified.json() as { valid?: boolean }).valid, true)
    })
    assert.deepEqual(thrown, [])
  })

  it('none for OCSP, answered live (with a nonce) and pre-signed (without)', async () => {
    const holder = await h.subscriber()
    const dir = tempDir()
    const file = (name: string) => path.join(dir, name)
    fs.writeFileSync(file('issuing.pem'), toPem(new Uint8Array((await server.ctx.ca.issuing()).certificate.rawData), 'CERTIFICATE'))
    fs.writeFileSync(file('holder.pem'), toPem(holder.certificate.der, 'CERTIFICATE'))
    // Made by openssl as a relying party's would be, before counting (openssl runs outside this process).
    assert.equal((await openssl(['ocsp', '-issuer', file('issuing.pem'), '-cert', file('holder.pem'), '-reqout', file('nonce.req')])).code, 0)
    assert.equal((await openssl(['ocsp', '-no_nonce', '-issuer', file('issuing.pem'), '-cert', file('holder.pem'), '-reqout', file('plain.req')])).code, 0)
    const thrown = await counter.during(async () => {
      const live = await fetch(`${server.url}/pki/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: fs.readFileSync(file('nonce.req')) })
      assert.equal(live.status, 200)
      await live.arrayBuffer()
      for (let i = 0; i < 2; i++) {
        const presigned = await fetch(`${server.url}/pki/ocsp/${encodeURIComponent(fs.readFileSync(file('plain.req')).toString('base64'))}`)
        assert.equal(presigned.status, 200)
        await presigned.arrayBuffer()
      }
    })
    assert.deepEqual(thrown, [])
  })

  it('counts what the path throws, not asn1js\'s own UTF-8 failure on key or signature bytes that happen to look like text', async () => {
    // A key whose BIT STRING holds 0c 01 ff: a UTF8String of one byte that is no UTF-8, as random
    // key or signature bytes sometimes start (it made this file's signature case fail once).
    const key = new Uint8Array(AsnConvert.serialize(new SubjectPublicKeyInfo({ algorithm: new AlgorithmIdentifier({ algorithm: '1.2.840.10045.2.1' }), subjectPublicKey: new Uint8Array([0x0c, 0x01, 0xff]).buffer })))
    assert.deepEqual(await counter.during(async () => parseDer(key, SubjectPublicKeyInfo, 'the key')), [])
    const thrown = await counter.during(async () => assert.throws(() => parseDer(new Uint8Array([0x30, 0x05, 0x01]), SubjectPublicKeyInfo, 'the key'), /not readable ASN\.1/))
    assert.ok(thrown.some((t) => t.what.endsWith('the key is not readable ASN.1')), JSON.stringify(thrown))
  })
})
