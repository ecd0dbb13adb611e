import assert from 'node:assert/strict'
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { NotACertificateError, summarizeCertificate } from '../../src/der/certificate-summary.ts'
import { backupText, certificatesIn, keyMatchesCertificate, parseBackup } from '../../src/holders/keyfile/certificate-file.ts'
import { hex, INTEGER, integer, NULL, OCTET_STRING, OID, SEQUENCE, tlv } from '../../src/der/der.ts'
import { decryptPkcs8, encryptPkcs8, fromPem, KeyFileError, toPem } from '../../src/holders/keyfile/encrypted-pkcs8.ts'
import { openssl } from '../helpers/pki.ts'
import { tempDir } from '../helpers/server.ts'

const pkcs8 = () => new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'der', type: 'pkcs8' }))

describe('password-protected key files (PKCS#8, PBES2)', () => {
  it('writes what openssl opens with the right password and refuses with a wrong one', async () => {
    const key = pkcs8()
    const dir = tempDir('postcert-keyfile-')
    const file = path.join(dir, 'key.pem')
    fs.writeFileSync(file, toPem(await encryptPkcs8(key, 'Correct horse 42'), 'ENCRYPTED PRIVATE KEY'))
    const parsed = await openssl(['asn1parse', '-in', file])
    assert.match(parsed.output, /PBES2/)
    assert.match(parsed.output, /PBKDF2/)
    assert.match(parsed.output, /hmacWithSHA256/)
    assert.match(parsed.output, /aes-256-cbc/)
    assert.match(parsed.output, /INTEGER\s+:0927C0/, '600,000 iterations')
    const opened = await openssl(['pkey', '-in', file, '-passin', 'pass:Correct horse 42', '-out', path.join(dir, 'plain.pem')])
    assert.equal(opened.code, 0, opened.output)
    const scalar = createPrivateKey(fs.readFileSync(path.join(dir, 'plain.pem'))).export({ format: 'jwk' }).d
    assert.equal(scalar, createPrivateKey({ key: Buffer.from(key), format: 'der', type: 'pkcs8' }).export({ format: 'jwk' }).d, 'the same private key')
    const wrong = await openssl(['pkey', '-in', file, '-passin', 'pass:wrong horse 42', '-noout'])
    assert.notEqual(wrong.code, 0)
  })

  it('reads what openssl writes, and says when the password is wrong', async () => {
    const dir = tempDir('postcert-keyfile-')
    const plain = path.join(dir, 'plain.pem')
    fs.writeFileSync(plain, createPrivateKey({ key: Buffer.from(pkcs8()), format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }))
    const made = await openssl(['pkcs8', '-topk8', '-in', plain, '-v2', 'aes-256-cbc', '-v2prf', 'hmacWithSHA256', '-iter', '1000', '-passout', 'pass:s3cret-pass', '-out', path.join(dir, 'enc.pem')])
    assert.equal(made.code, 0, made.output)
    const der = fromPem(fs.readFileSync(path.join(dir, 'enc.pem'), 'utf8'), 'ENCRYPTED PRIVATE KEY')!
    const key = await decryptPkcs8(der, 's3cret-pass')
    assert.equal(createPrivateKey({ key: Buffer.from(key), format: 'der', type: 'pkcs8' }).asymmetricKeyType, 'ec')
    await assert.rejects(decryptPkcs8(der, 'not-it'), (err: Error) => err instanceof KeyFileError && err.message === 'wrong password')
  })

  it('never takes a wrong password for the right one, even when the padding happens to be valid', async () => {
    // One in 256 wrong keys leaves valid CBC padding: 2000 tries meet that about 8 times.
    const der = await encryptPkcs8(pkcs8(), 'the-right-one-1', 1)
    for (let i = 0; i < 2000; i++) {
      await assert.rejects(decryptPkcs8(der, `wrong-${i}`), (err: Error) => err instanceof KeyFileError && err.message === 'wrong password')
    }
    assert.ok(await decryptPkcs8(der, 'the-right-one-1'))
  })

  it('refuses files it does not read, with the reason', async () => {
    await assert.rejects(decryptPkcs8(new Uint8Array([1, 2, 3]), 'x'), /not an encrypted private key/)
    const dir = tempDir('postcert-keyfile-')
    const plain = path.join(dir, 'plain.pem')
    fs.writeFileSync(plain, createPrivateKey({ key: Buffer.from(pkcs8()), format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }))
    await openssl(['pkcs8', '-topk8', '-in', plain, '-v2', 'aes-128-cbc', '-v2prf', 'hmacWithSHA256', '-iter', '1000', '-passout', 'pass:p', '-out', path.join(dir, 'aes128.pem')])
    await assert.rejects(decryptPkcs8(fromPem(fs.readFileSync(path.join(dir, 'aes128.pem'), 'utf8'), 'ENCRYPTED PRIVATE KEY')!, 'p'), /not AES-256-CBC/)
  })

  it('checks the PBES2 parameters: a 16-byte IV, an OCTET STRING salt, a 32-byte key', async () => {
    /** EncryptedPrivateKeyInfo, PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC, with the given parameter encodings. */
    const file = (p: { salt?: Uint8Array; keyLength?: number; iv?: Uint8Array }) => {
      const kdfParams = tlv(SEQUENCE, p.salt ?? tlv(OCTET_STRING, new Uint8Array(16)), integer(1000),
        ...(p.keyLength === undefined ? [] : [integer(p.keyLength)]), tlv(SEQUENCE, tlv(OID, hex('2a864886f70d0209')), tlv(NULL)))
      const kdf = tlv(SEQUENCE, tlv(OID, hex('2a864886f70d01050c')), kdfParams)
      const scheme = tlv(SEQUENCE, tlv(OID, hex('60864801650304012a')), p.iv ?? tlv(OCTET_STRING, new Uint8Array(16)))
      return tlv(SEQUENCE, tlv(SEQUENCE, tlv(OID, hex('2a864886f70d01050d')), tlv(SEQUENCE, kdf, scheme)), tlv(OCTET_STRING, new Uint8Array(32)))
    }
    await assert.rejects(decryptPkcs8(file({ iv: tlv(OCTET_STRING, new Uint8Array(8)) }), 'p'), /the AES-256-CBC IV must be an OCTET STRING of 16 bytes/)
    await assert.rejects(decryptPkcs8(file({ iv: tlv(INTEGER, new Uint8Array(16).fill(1)) }), 'p'), /the AES-256-CBC IV must be an OCTET STRING of 16 bytes/)
    await assert.rejects(decryptPkcs8(file({ salt: tlv(INTEGER, new Uint8Array(16).fill(1)) }), 'p'), /the PBKDF2 salt must be an OCTET STRING/)
    await assert.rejects(decryptPkcs8(file({ keyLength: 16 }), 'p'), /the PBKDF2 key length must be 32 bytes/)
    // Well-formed, with or without the key length: the password is what is wrong.
    await assert.rejects(decryptPkcs8(file({ keyLength: 32 }), 'p'), /wrong password/)
    await assert.rejects(decryptPkcs8(file({}), 'p'), /wrong password/)
  })
})

describe('certificate files: what the browser reads of a certificate, and the backup format', () => {
  /** A certificate made by openssl, so the reader is checked against an independent writer. */
  async function opensslCertificate(days: number, subject = '/C=KR/CN=김우정/serialNumber=PS1') {
    const dir = tempDir('postcert-certfile-')
    const keyFile = path.join(dir, 'key.pem')
    const certFile = path.join(dir, 'cert.pem')
    const made = await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-utf8',
      '-subj', subject, '-days', String(days), '-keyout', keyFile, '-out', certFile])
    assert.equal(made.code, 0, made.output)
    const pem = fs.readFileSync(certFile, 'utf8')
    return { pem, der: fromPem(pem, 'CERTIFICATE')!, key: createPrivateKey(fs.readFileSync(keyFile)) }
  }

  for (const [what, days] of [['UTCTime', 30], ['GeneralizedTime (after 2049)', 30_000]] as const) {
    it(`reads serial, name, expiry (${what}) and public key as Node's X509Certificate does`, async () => {
      const { der } = await opensslCertificate(days)
      const summary = summarizeCertificate(der)
      const x509 = new X509Certificate(der)
      assert.equal(summary.serial, x509.serialNumber.toLowerCase().replace(/^0+/, ''))
      assert.equal(summary.name, '김우정')
      assert.equal(summary.notAfter.getTime(), new Date(x509.validTo).getTime())
      assert.deepEqual(Buffer.from(summary.spki), x509.publicKey.export({ format: 'der', type: 'spki' }))
    })
  }

  it('refuses what is not a certificate', () => {
    assert.throws(() => summarizeCertificate(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])), NotACertificateError)
    assert.throws(() => summarizeCertificate(new TextEncoder().encode('hello')), NotACertificateError)
  })

  it('reads back the backup file it writes, and says what a broken one lacks', async () => {
    const leaf = await opensslCertificate(30)
    const ca = await opensslCertificate(30, '/CN=Test CA')
    const encryptedKeyPem = toPem(await encryptPkcs8(pkcs8(), 'Correct horse 42', 1000), 'ENCRYPTED PRIVATE KEY')
    const file = { encryptedKeyPem, certificatePem: leaf.pem, chainPem: ca.pem }
    const parsed = parseBackup(backupText(file))
    assert.deepEqual(parsed, file)
    assert.deepEqual(certificatesIn(parsed.certificatePem + parsed.chainPem).map((d) => Buffer.from(d)), [Buffer.from(leaf.der), Buffer.from(ca.der)])
    // Windows line endings and text around the blocks do not matter.
    assert.deepEqual(parseBackup(`my backup\r\n${backupText(file).replace(/\n/g, '\r\n')}`), file)
    assert.throws(() => parseBackup(leaf.pem), /no encrypted private key/)
    assert.throws(() => parseBackup(encryptedKeyPem), /no certificate/)
  })

  it('tells whether a private key belongs to the certificate', async () => {
    const { der, key } = await opensslCertificate(30)
    const spki = summarizeCertificate(der).spki
    assert.equal(keyMatchesCertificate(key.export({ format: 'jwk' }), spki), true)
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' })
    assert.equal(keyMatchesCertificate(other, spki), false)
  })
})
