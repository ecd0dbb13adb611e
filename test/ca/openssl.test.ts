import assert from 'node:assert/strict'
import { createPrivateKey } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { OCSP_VERSION_CHECK_MS, POLICY_OIDS } from '../../src/ca/constants.ts'
import { OcspResponder, singleStatus } from '../../src/ca/ocsp.ts'
import { toPem } from '../../src/ca/x509.ts'
import { issueCertificate, openssl } from '../helpers/pki.ts'
import { startTestServer, tempDir, type TestServer } from '../helpers/server.ts'

/** openssl, the tool any relying party or auditor has, accepts what PostCert publishes. */
describe('openssl and the published PKI', () => {
  let server: TestServer
  let dir: string
  const file = (name: string) => path.join(dir, name)

  before(async () => {
    server = await startTestServer({ env: { CRL_MIN_INTERVAL_SECONDS: '0' } })
    dir = tempDir('postcert-pki-')
    fs.writeFileSync(file('ca.pem'), await (await fetch(`${server.url}/pki/ca.pem`)).text())
    fs.writeFileSync(file('issuing.cer'), Buffer.from(await (await fetch(`${server.url}/pki/issuing.cer`)).arrayBuffer()))
    const converted = await openssl(['x509', '-inform', 'DER', '-in', file('issuing.cer'), '-out', file('issuing.pem')])
    assert.equal(converted.code, 0, converted.output)
  })
  after(async () => { await server.close() })

  async function issueToFile(name: string) {
    const { certificate } = await issueCertificate(server.ctx.authority, { displayName: '홍길동', subscriberId: `ps-${name}` })
    fs.writeFileSync(file(`${name}.pem`), toPem(certificate.der, 'CERTIFICATE'))
    return certificate
  }

  const ocsp = (args: string[]) => openssl(['ocsp', '-issuer', file('issuing.pem'), '-CAfile', file('ca.pem'), '-url', `${server.url}/pki/ocsp`, ...args])

  it('verifies an issued certificate against the published chain', async () => {
    await issueToFile('alice')
    const result = await openssl(['verify', '-CAfile', file('ca.pem'), file('alice.pem')])
    assert.equal(result.code, 0, result.output)
    assert.match(result.output, /alice\.pem: OK/)
  })

  it('reads the subscriber profile of RFC 5280 from the certificate', async () => {
    const certificate = await issueToFile('profile')
    const { output } = await openssl(['x509', '-in', file('profile.pem'), '-noout', '-text', '-nameopt', 'utf8,sep_comma_plus_space'])
    // A random value of this certificate's own, not the subscriber id (which would link their certificates).
    assert.match(output, /Subject: C=KR, CN=홍길동, serialNumber=[0-9a-f]{32}\n/)
    assert.ok(!output.includes('ps-profile'))
    assert.match(output, /Basic Constraints: critical\s+CA:FALSE/)
    assert.match(output, /Key Usage: critical\s+Digital Signature, Non Repudiation/)
    assert.match(output, /Subject Key Identifier/)
    assert.match(output, /Authority Key Identifier/)
    assert.ok(output.includes(`Policy: ${POLICY_OIDS.file}\n`), 'the certificate-file policy')
    assert.ok(output.includes(`URI:${server.issuer}/pki/crl`))
    assert.ok(output.includes(`OCSP - URI:${server.issuer}/pki/ocsp`))
    assert.ok(output.includes(`CA Issuers - URI:${server.issuer}/pki/issuing.cer`))
    const days = (certificate.notAfter.getTime() - certificate.notBefore.getTime()) / 86_400_000
    assert.equal(days, 365)
    assert.match(certificate.serial, /^[0-9a-f]{31,32}$/)
  })

  it('answers OCSP good, then revoked with time and reason after revocation, with the nonce echoed', async () => {
    const certificate = await issueToFile('bob')
    const good = await ocsp(['-cert', file('bob.pem')])
    assert.match(good.output, /Response verify OK/)
    assert.match(good.output, /bob\.pem: good/)
    assert.doesNotMatch(good.output, /WARNING: no nonce/)

    await server.ctx.authority.revoke(certificate.serial, 'keyCompromise')
    const revoked = await ocsp(['-cert', file('bob.pem')])
    assert.match(revoked.output, /Response verify OK/)
    assert.match(revoked.output, /bob\.pem: revoked/)
    assert.match(revoked.output, /Reason: keyCompromise/)
    assert.match(revoked.output, /Revocation Time: /)
  })

  it('answers OCSP unknown for a serial never issued', async () => {
    const unknown = await ocsp(['-serial', '0x1234567890abcdef'])
    assert.match(unknown.output, /Response verify OK/)
    assert.match(unknown.output, /0x1234567890abcdef: unknown/)
  })

  it('answers an OCSP GET request (RFC 6960 A.1)', async () => {
    await issueToFile('carol')
    const request = await openssl(['ocsp', '-no_nonce', '-issuer', file('issuing.pem'), '-cert', file('carol.pem'), '-reqout', file('carol.req')])
    assert.equal(request.code, 0, request.output)
    const encoded = encodeURIComponent(fs.readFileSync(file('carol.req')).toString('base64'))
    const res = await fetch(`${server.url}/pki/ocsp/${encoded}`)
    assert.equal(res.headers.get('content-type'), 'application/ocsp-response')
    fs.writeFileSync(file('carol.resp'), Buffer.from(await res.arrayBuffer()))
    const checked = await openssl(['ocsp', '-no_nonce', '-respin', file('carol.resp'), '-issuer', file('issuing.pem'), '-cert', file('carol.pem'), '-CAfile', file('ca.pem')])
    assert.match(checked.output, /Response verify OK/)
    assert.match(checked.output, /carol\.pem: good/)
  })

  it('pre-signs the answer to a request without a nonce (RFC 5019): nextUpdate, the same bytes again, and revoked at once after a revocation here (#19)', async () => {
    const certificate = await issueToFile('dave')
    const ask = (out: string) => ocsp(['-no_nonce', '-cert', file('dave.pem'), '-respout', file(out)])
    const first = await ask('dave-1.resp')
    assert.match(first.output, /Response verify OK/)
    assert.match(first.output, /dave\.pem: good/)
    const [, thisUpdate, nextUpdate] = /This Update: (.+)\n\s*Next Update: (.+)\n/.exec(first.output) ?? []
    assert.ok(thisUpdate && nextUpdate, first.output)
    assert.equal((Date.parse(nextUpdate) - Date.parse(thisUpdate)) / 1000, 300, 'OCSP_VALIDITY_SECONDS, 5 minutes by default')
    await ask('dave-2.resp')
    assert.deepEqual(fs.readFileSync(file('dave-2.resp')), fs.readFileSync(file('dave-1.resp')), 'signed once, served again')

    // A GET may be cached by HTTP caches until nextUpdate, and no longer (RFC 5019 6.2).
    await openssl(['ocsp', '-no_nonce', '-issuer', file('issuing.pem'), '-cert', file('dave.pem'), '-reqout', file('dave.req')])
    const res = await fetch(`${server.url}/pki/ocsp/${encodeURIComponent(fs.readFileSync(file('dave.req')).toString('base64'))}`)
    const maxAge = Number(/^public, max-age=(\d+), no-transform, must-revalidate$/.exec(res.headers.get('cache-control') ?? '')?.[1])
    assert.ok(maxAge > 0 && maxAge <= 300, `${res.headers.get('cache-control')}`)
    assert.equal(res.headers.get('expires'), new Date(nextUpdate).toUTCString())
    assert.equal(res.headers.get('last-modified'), new Date(thisUpdate).toUTCString())
    assert.match(res.headers.get('etag') ?? '', /^"[\w-]{43}"$/)
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), fs.readFileSync(file('dave-1.resp')))
    const post = await fetch(`${server.url}/pki/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: fs.readFileSync(file('dave.req')) })
    assert.equal(post.headers.get('cache-control'), 'no-store', 'a POST answer is not for HTTP caches')

    await server.ctx.authority.revoke(certificate.serial, 'keyCompromise')
    const revoked = await ask('dave-3.resp')
    assert.match(revoked.output, /Response verify OK/)
    assert.match(revoked.output, /dave\.pem: revoked/)
    assert.match(revoked.output, /Reason: keyCompromise/)
    assert.match(revoked.output, /Next Update: /)
  })

  it('drops its pre-signed answers at once when this instance changes a status, within a second when another does (#19)', async () => {
    const certificate = await issueToFile('frank')
    await openssl(['ocsp', '-no_nonce', '-issuer', file('issuing.pem'), '-cert', file('frank.pem'), '-reqout', file('frank.req')])
    const request = fs.readFileSync(file('frank.req'))
    // Another instance on the same database: this server's revocation does not reach it in memory.
    const other = new OcspResponder(server.ctx.db, server.ctx.ca, server.ctx.clock, { validitySeconds: 300 })
    const kept = await other.respond(request)
    assert.equal(singleStatus(kept), 'good')
    assert.deepEqual(await other.respond(request), kept, 'pre-signed (an ECDSA signature differs each time)')
    const here = await server.ctx.ocsp.respond(request)
    assert.equal(singleStatus(here), 'good')

    await server.ctx.authority.revoke(certificate.serial, 'keyCompromise')
    // Well within the second before this instance reads the status version again.
    assert.equal(singleStatus(await server.ctx.ocsp.respond(request)), 'revoked')
    await new Promise((resolve) => setTimeout(resolve, OCSP_VERSION_CHECK_MS + 100))
    assert.equal(singleStatus(await other.respond(request)), 'revoked')
  })

  it('publishes a signed CRL that lists a revoked serial with its reason', async () => {
    const certificate = await issueToFile('dave')
    await server.ctx.authority.revoke(certificate.serial, 'cessationOfOperation')
    const res = await fetch(`${server.url}/pki/crl`)
    assert.equal(res.headers.get('content-type'), 'application/pkix-crl')
    fs.writeFileSync(file('crl.der'), Buffer.from(await res.arrayBuffer()))
    const crl = await openssl(['crl', '-inform', 'DER', '-in', file('crl.der'), '-CAfile', file('ca.pem'), '-noout', '-text'])
    assert.match(crl.output, /verify OK/)
    assert.match(crl.output, /X509v3 CRL Number:\s+\d+/)
    assert.match(crl.output, /Next Update: /)
    const entry = new RegExp(`Serial Number: 0?${certificate.serial.toUpperCase()}\\s+Revocation Date: [^\\n]+\\s+CRL entry extensions:\\s+X509v3 CRL Reason Code:\\s+Cessation Of Operation`)
    assert.match(crl.output, entry)
  })

  it('shows suspension in CRL and OCSP, and its lifting', async () => {
    const certificate = await issueToFile('erin')
    await server.ctx.authority.suspend(certificate.serial)
    const held = await ocsp(['-cert', file('erin.pem')])
    assert.match(held.output, /erin\.pem: revoked/)
    assert.match(held.output, /Reason: certificateHold/)
    fs.writeFileSync(file('crl-held.der'), Buffer.from(await (await fetch(`${server.url}/pki/crl`)).arrayBuffer()))
    assert.match((await openssl(['crl', '-inform', 'DER', '-in', file('crl-held.der'), '-noout', '-text'])).output, /Certificate Hold/)

    await server.ctx.authority.resume(certificate.serial)
    assert.match((await ocsp(['-cert', file('erin.pem')])).output, /erin\.pem: good/)
    fs.writeFileSync(file('crl-resumed.der'), Buffer.from(await (await fetch(`${server.url}/pki/crl`)).arrayBuffer()))
    const resumed = await openssl(['crl', '-inform', 'DER', '-in', file('crl-resumed.der'), '-noout', '-text'])
    assert.ok(!resumed.output.toUpperCase().includes(certificate.serial.toUpperCase()), 'the lifted hold is no longer listed')
  })

  it('answers a certificate\'s status by serial, never the certificate or its subject (they name the subscriber)', async () => {
    const { certificate } = await issueCertificate(server.ctx.authority)
    for (const accept of ['application/json', 'application/x-pem-file', '*/*']) {
      const res = await fetch(`${server.url}/pki/certificates/${certificate.serial.toUpperCase()}`, { headers: { accept } })
      assert.match(res.headers.get('content-type')!, /^application\/json/)
      const json = await res.json() as Record<string, string>
      assert.deepEqual(Object.keys(json).sort(), ['not_after', 'not_before', 'serial', 'status'])
      assert.equal(json.serial, certificate.serial)
      assert.equal(json.status, 'good')
      assert.equal(json.not_after, certificate.notAfter.toISOString())
    }
  })

  it('answers garbage OCSP requests with malformedRequest, unknown serials with 404', async () => {
    const malformed = Buffer.from('3003' + '0a0101', 'hex') // OCSPResponse { responseStatus: malformedRequest }
    for (const res of [
      await fetch(`${server.url}/pki/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: 'not der at all' }),
      await fetch(`${server.url}/pki/ocsp`, { method: 'POST', headers: { 'content-type': 'application/ocsp-request' }, body: new Uint8Array([0x30, 0x00]) }),
      await fetch(`${server.url}/pki/ocsp/${encodeURIComponent('%%%garbage')}`),
    ]) {
      assert.equal(res.status, 200)
      assert.deepEqual(Buffer.from(await res.arrayBuffer()), malformed)
    }
    const big = await fetch(`${server.url}/pki/ocsp`, { method: 'POST', body: new Uint8Array(100_000) })
    assert.equal(big.status, 413)
    const unknown = await fetch(`${server.url}/pki/certificates/abcdef0123`, { headers: { accept: 'application/json' } })
    assert.equal(unknown.status, 404)
    assert.deepEqual(await unknown.json(), { error: 'certificate_not_found', error_description: 'no certificate with serial abcdef0123' })
    const bad = await fetch(`${server.url}/pki/certificates/not-hex`)
    assert.equal(bad.status, 400)
  })

  it('never reveals a CA private key', async () => {
    const rows = await server.ctx.db.selectFrom('ca_certificate').select(['id', 'sealed_key']).execute()
    const secrets = rows.map((r) => server.ctx.box.open(r.sealed_key!, `ca_certificate:${r.id}:key`))
    const { certificate } = await issueCertificate(server.ctx.authority)
    const bodies: Buffer[] = []
    for (const p of ['/pki/ca.pem', '/pki/issuing.cer', '/pki/crl', `/pki/certificates/${certificate.serial}`, '/jwks', '/.well-known/openid-configuration', '/metrics']) {
      bodies.push(Buffer.from(await (await fetch(`${server.url}${p}`)).arrayBuffer()))
    }
    for (const body of bodies) {
      const text = body.toString('latin1')
      assert.ok(!/PRIVATE KEY/.test(text))
      for (const secret of secrets) {
        // the PKCS#8 itself, and the raw private scalar inside it, in any encoding
        const scalar = Buffer.from(createPrivateKey({ key: secret, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' }).d!, 'base64url')
        for (const needle of [secret, scalar]) {
          assert.ok(!body.includes(needle))
          assert.ok(!text.includes(needle.toString('base64')) && !text.includes(needle.toString('base64url')) && !text.includes(needle.toString('hex')))
        }
      }
    }
  })
})
