import assert from 'node:assert/strict'
import { generateKeyPairSync, sign, verify } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import type { CertificateRecord } from '../../src/ca/authority.ts'
import { CrlPublisher } from '../../src/ca/crl.ts'
import { encodeCrl, encodeEntry } from '../../src/ca/crl-encoder.ts'
import type { CaSigner } from '../../src/ca/signer.ts'
import { toPem } from '../../src/ca/x509.ts'
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

/** A DER element's header size and content length at `at`. */
function tlvAt(der: Uint8Array, at: number): { header: number; length: number } {
  const first = der[at + 1]!
  if (first < 0x80) return { header: 2, length: first }
  let length = 0
  for (let i = 0; i < (first & 0x7f); i++) length = length * 256 + der[at + 2 + i]!
  return { header: 2 + (first & 0x7f), length }
}

describe('the CRL encoder (#19)', () => {
  it('writes a national CRL in slices, letting the event loop run, and its signature covers exactly the bytes written', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const count = 150_000
    const entries = Array.from({ length: count }, (_, i) => encodeEntry({ serial: (0x10000 + i).toString(16), revokedAt: new Date(Date.UTC(2026, 0, 1)), reason: i % 2 }))
    const now = new Date(Date.UTC(2026, 11, 1))
    // Turns of the event loop while it encodes: this signer signs the 5.5 MiB at once, on this
    // thread, so every turn is one the encoder gave.
    const signer: CaSigner = { keeper: 'sealed', sign: async (data) => sign('sha256', data, { key: privateKey, dsaEncoding: 'der' }) }
    let turns = 0
    let encoding = true
    const countTurns = () => { if (encoding) { turns++; setImmediate(countTurns) } }
    setImmediate(countTurns)
    const der = await encodeCrl({ issuerName: Buffer.from('3000', 'hex'), authorityKeyId: Buffer.alloc(20, 7), thisUpdate: now, nextUpdate: new Date(now.getTime() + DAY_MS), number: 9 }, entries, signer)
    encoding = false
    assert.ok(turns >= 3, `the event loop turned ${turns} times during the encoding`)
    // openssl reads every entry; the signature verifies over the to-be-signed part.
    const dir = tempDir('postcert-crl-encoder-')
    fs.writeFileSync(path.join(dir, 'crl.der'), der)
    const text = await openssl(['crl', '-inform', 'DER', '-in', path.join(dir, 'crl.der'), '-noout', '-text', '-out', path.join(dir, 'crl.txt')])
    assert.equal(text.code, 0, text.output)
    assert.equal(fs.readFileSync(path.join(dir, 'crl.txt'), 'utf8').match(/Serial Number:/g)?.length, count)
    // CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm (12 bytes), signatureValue BIT STRING }
    const outer = tlvAt(der, 0)
    assert.equal(outer.header + outer.length, der.length, 'the outer length is the whole')
    const tbs = tlvAt(der, outer.header)
    const bits = tlvAt(der, outer.header + tbs.header + tbs.length + 12)
    assert.equal(outer.header + tbs.header + tbs.length + 12 + bits.header + bits.length, der.length, 'nothing after the signature')
    const signatureStart = outer.header + tbs.header + tbs.length + 12 + bits.header + 1 // after the unused-bits byte
    assert.equal(verify('sha256', der.subarray(outer.header, outer.header + tbs.header + tbs.length), publicKey, der.subarray(signatureStart)), true)
  })
})

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

describe('partitioned CRLs (CRL_PARTITIONS): each certificate names its partition, which lists only its own (#19)', () => {
  let server: TestServer
  let dir: string
  const file = (name: string) => path.join(dir, name)
  const PARTITIONS = 3

  before(async () => {
    server = await startTestServer({ env: { CRL_MIN_INTERVAL_SECONDS: '0', CRL_PARTITIONS: String(PARTITIONS) } })
    dir = tempDir('postcert-crl-partitions-')
    fs.writeFileSync(file('ca.pem'), await (await fetch(`${server.url}/pki/ca.pem`)).text())
  })
  after(async () => { await server.close() })

  /** Certificates until every partition holds one: the partition is the serial modulo their number. */
  async function onePerPartition(): Promise<CertificateRecord[]> {
    const found = new Map<number, CertificateRecord>()
    while (found.size < PARTITIONS) {
      const { certificate } = await issueCertificate(server.ctx.authority, { subscriberId: `ps-part-${found.size}-${Math.random()}` })
      const partition = Number(BigInt(`0x${certificate.serial}`) % BigInt(PARTITIONS))
      if (found.has(partition)) continue
      found.set(partition, certificate)
      fs.writeFileSync(file(`p${partition}.pem`), toPem(certificate.der, 'CERTIFICATE'))
    }
    return [...found.keys()].sort().map((p) => found.get(p)!)
  }

  const saveCrl = async (url: string, name: string) => {
    const res = await fetch(url)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/pkix-crl')
    fs.writeFileSync(file(name), Buffer.from(await res.arrayBuffer()))
  }
  /** openssl verify with CRL checking: the CRL must be in the certificate's scope (its distribution point). */
  const verify = (certificate: string, crl: string) => openssl(['verify', '-crl_check', '-CAfile', file('ca.pem'), '-CRLfile', file(crl), file(certificate)])

  it('names the partition in the certificate, and the partition\'s CRL is in its scope (openssl) and lists its revocation', async () => {
    const [first] = await onePerPartition()
    const text = (await openssl(['x509', '-in', file('p0.pem'), '-noout', '-text'])).output
    assert.ok(text.includes(`URI:${server.issuer}/pki/crl/0\n`), 'the distribution point is partition 0\'s CRL')
    await server.ctx.authority.revoke(first!.serial, 'keyCompromise')

    await saveCrl(`${server.url}/pki/crl/0`, 'crl-0.der')
    await saveCrl(`${server.url}/pki/crl/1`, 'crl-1.der')
    await saveCrl(`${server.url}/pki/crl`, 'crl-complete.der')
    const partitionText = (await openssl(['crl', '-inform', 'DER', '-in', file('crl-0.der'), '-noout', '-text'])).output
    assert.match(partitionText, new RegExp(`X509v3 Issuing Distribution Point: critical\\s+Full Name:\\s+URI:${server.issuer}/pki/crl/0\\n`))
    for (const name of ['crl-0.der', 'crl-1.der', 'crl-complete.der']) {
      const pem = await openssl(['crl', '-inform', 'DER', '-in', file(name), '-out', file(`${name}.pem`), '-CAfile', file('ca.pem')])
      assert.match(pem.output, /verify OK/)
    }

    // The revoked certificate, against its partition: revoked. Against another partition's CRL: not in its scope, so not taken.
    const revoked = await verify('p0.pem', 'crl-0.der.pem')
    assert.notEqual(revoked.code, 0)
    assert.match(revoked.output, /certificate revoked/)
    const elsewhere = await verify('p0.pem', 'crl-1.der.pem')
    assert.notEqual(elsewhere.code, 0)
    assert.match(elsewhere.output, /different CRL scope/)
    // A good certificate of partition 1 against its own CRL: OK, and the revocation is not on it.
    const good = await verify('p1.pem', 'crl-1.der.pem')
    assert.equal(good.code, 0, good.output)
    assert.ok(!(await openssl(['crl', '-in', file('crl-1.der.pem'), '-noout', '-text'])).output.includes(first!.serial.toUpperCase()))
    // The complete CRL (no issuing distribution point) lists it too, for whoever asks for everything.
    const complete = (await openssl(['crl', '-in', file('crl-complete.der.pem'), '-noout', '-text'])).output
    assert.ok(!complete.includes('Issuing Distribution Point'))
    assert.match(complete, new RegExp(`Serial Number: 0?${first!.serial.toUpperCase()}`))
  })

  it('rebuilds a partition\'s CRL only when one of its certificates changed status', async () => {
    const certificates = await onePerPartition()
    const before = await Promise.all([0, 1, 2].map((p) => server.ctx.crl.current(p)))
    await server.ctx.authority.suspend(certificates[1]!.serial)
    const after = await Promise.all([0, 1, 2].map((p) => server.ctx.crl.current(p)))
    assert.equal(after[0]!.number, before[0]!.number, 'partition 0 had no change: the same CRL')
    assert.equal(after[2]!.number, before[2]!.number, 'partition 2 had no change: the same CRL')
    assert.equal(after[1]!.number, before[1]!.number + 1, 'partition 1 is rebuilt')
    // Another instance (its own publisher, nothing in memory) agrees: the published rows are current.
    const other = new CrlPublisher(server.ctx.db, server.ctx.ca, server.ctx.clock, { issuer: server.issuer, minIntervalSeconds: 0 })
    assert.deepEqual((await Promise.all([0, 1, 2].map((p) => other.current(p)))).map((c) => c.number), after.map((c) => c.number))
    fs.writeFileSync(file('held.der'), after[1]!.der)
    assert.match((await openssl(['crl', '-inform', 'DER', '-in', file('held.der'), '-noout', '-text'])).output, /Certificate Hold/)
    // Resumed: partition 1 again, without it.
    await server.ctx.authority.resume(certificates[1]!.serial)
    const resumed = await other.current(1)
    assert.equal(resumed.number, after[1]!.number + 1)
    fs.writeFileSync(file('resumed.der'), resumed.der)
    assert.ok(!(await openssl(['crl', '-inform', 'DER', '-in', file('resumed.der'), '-noout', '-text'])).output.includes(certificates[1]!.serial.toUpperCase()))
  })

  it('answers an empty, signed CRL for a partition no certificate names, and 400 for one beyond the limit', async () => {
    await saveCrl(`${server.url}/pki/crl/4095`, 'crl-4095.der')
    const text = (await openssl(['crl', '-inform', 'DER', '-in', file('crl-4095.der'), '-CAfile', file('ca.pem'), '-noout', '-text'])).output
    assert.match(text, /verify OK/)
    assert.match(text, /No Revoked Certificates/)
    for (const bad of ['4096', '01', '-1', 'x', '99999999999999999999']) {
      const res = await fetch(`${server.url}/pki/crl/${bad}`)
      assert.equal(res.status, 400, bad)
      assert.equal((await res.json() as { error: string }).error, 'invalid_request')
    }
  })
})
