import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { ManualClock } from '../../src/util/clock.ts'
import { issueCertificate, openssl } from '../helpers/pki.ts'
import { startTestServer, tempDir, type TestServer } from '../helpers/server.ts'

const DAY_MS = 86_400_000

/** Revoked certificates as many revocations leave them (rows only: the CRL reads nothing else). */
async function revokedRows(server: TestServer, count: number, notAfter: Date, prefix: string) {
  const ca = await server.ctx.ca.issuing()
  await sql`insert into certificate (serial, subscriber_id, holder, issuer_id, der, subject, spki_sha256, not_before, not_after, status, revoked_at, revocation_reason, status_changed_at)
    select ${prefix} || lpad(to_hex(g), 12, '0'), 'ps_bulk', 'file', ${ca.id}, '\\x01'::bytea, 'CN=bulk', 'x', ${new Date(notAfter.getTime() - 365 * DAY_MS)}, ${notAfter},
      'revoked', ${server.ctx.clock.now()}, 'keyCompromise', ${server.ctx.clock.now()}
    from generate_series(1, ${count}) g`.execute(server.ctx.db)
  await sql`update certificate_status_version set version = version + 1 where id = 1`.execute(server.ctx.db)
}

/** The CRL as openssl reads it (@peculiar's parser caps the number of ASN.1 nodes): verified, and its entries. */
async function crlOf(server: TestServer): Promise<{ verified: boolean; entries: { serial: string; reason?: string }[]; number: number }> {
  const dir = tempDir('postcert-crl-')
  fs.writeFileSync(path.join(dir, 'crl.der'), Buffer.from(await (await fetch(`${server.url}/pki/crl`)).arrayBuffer()))
  fs.writeFileSync(path.join(dir, 'ca.pem'), await (await fetch(`${server.url}/pki/ca.pem`)).text())
  // The text of a large CRL goes to a file: it is more than a process's output buffer holds.
  const verify = await openssl(['crl', '-inform', 'DER', '-in', path.join(dir, 'crl.der'), '-CAfile', path.join(dir, 'ca.pem'), '-noout', '-text', '-out', path.join(dir, 'crl.txt')])
  const output = `${verify.output}\n${fs.readFileSync(path.join(dir, 'crl.txt'), 'utf8')}`
  const entries = [...output.matchAll(/Serial Number: ([0-9A-F]+)\n\s+Revocation Date: [^\n]+(?:\n\s+CRL entry extensions:\n\s+X509v3 CRL Reason Code:\s*\n\s+([^\n]+))?/g)]
    .map((m) => ({ serial: m[1]!.toLowerCase().replace(/^0+/, ''), ...(m[2] ? { reason: m[2].trim() } : {}) }))
  return { verified: /verify OK/.test(output), entries, number: Number(/X509v3 CRL Number:\s*\n?\s*(\d+)/.exec(output)?.[1]) }
}

describe('the CRL: built off the request path, linear, without expired entries, at most every CRL_MIN_INTERVAL_SECONDS', () => {
  let server: TestServer
  const clock = new ManualClock()
  before(async () => { server = await startTestServer({ overrides: { clock }, env: { CRL_MIN_INTERVAL_SECONDS: '2' } }) })
  after(async () => { await server.close() })

  it('lists 20,000 revoked certificates that openssl verifies, while /healthz goes on answering', async () => {
    await revokedRows(server, 20_000, new Date(clock.now().getTime() + 100 * DAY_MS), 'a1')
    const { certificate } = await issueCertificate(server.ctx.authority)
    await server.ctx.authority.suspend(certificate.serial)
    // Health checks during the build: answered before it is done (the build yields as it goes).
    let building = true
    const answered: number[] = []
    const probe = (async () => {
      while (building) {
        const started = Date.now()
        assert.equal((await fetch(`${server.url}/healthz`)).status, 200)
        answered.push(Date.now() - started)
      }
    })()
    const started = Date.now()
    const crl = await server.ctx.crl.current()
    const took = Date.now() - started
    building = false
    await probe
    assert.ok(answered.length >= 2, `health checks answered during the ${took} ms build: ${answered.length}`)
    const read = await crlOf(server)
    assert.equal(read.verified, true, 'openssl verifies it with the CA')
    assert.equal(read.number, crl.number)
    assert.equal(read.entries.length, 20_001)
    assert.equal(read.entries.find((e) => e.serial === certificate.serial)?.reason, 'Certificate Hold')
    assert.equal(read.entries.find((e) => e.serial !== certificate.serial)?.reason, 'Key Compromise')
  })

  it('drops certificates one CRL period after they expired, and builds at most every 2 s, serving the last one meanwhile', async () => {
    clock.advance(100 * 86_400 + 2 * 86_400) // the 20,000 expired two days ago
    await new Promise((resolve) => setTimeout(resolve, 2100))
    const { certificate } = await issueCertificate(server.ctx.authority)
    await server.ctx.authority.revoke(certificate.serial, 'keyCompromise')
    const first = await crlOf(server)
    assert.equal(first.entries.length, 2, 'the expired ones left; the suspended and the revoked one remain')
    // A change right after: the last CRL is served until the interval has passed, then a new one.
    const { certificate: another } = await issueCertificate(server.ctx.authority)
    await server.ctx.authority.revoke(another.serial, 'keyCompromise')
    const soon = await crlOf(server)
    assert.equal(soon.entries.length, 2, 'the last good CRL, within the interval')
    await new Promise((resolve) => setTimeout(resolve, 2500))
    const later = await crlOf(server)
    assert.equal(later.entries.length, 3, 'built once the interval passed, without another request having to wait for it')
    assert.equal(later.number, first.number + 1)
  })
})
