import assert from 'node:assert/strict'
import { generateKeyPairSync, createPrivateKey } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
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

  it('refuses files it does not read, with the reason', async () => {
    await assert.rejects(decryptPkcs8(new Uint8Array([1, 2, 3]), 'x'), /not an encrypted private key/)
    const dir = tempDir('postcert-keyfile-')
    const plain = path.join(dir, 'plain.pem')
    fs.writeFileSync(plain, createPrivateKey({ key: Buffer.from(pkcs8()), format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }))
    await openssl(['pkcs8', '-topk8', '-in', plain, '-v2', 'aes-128-cbc', '-v2prf', 'hmacWithSHA256', '-iter', '1000', '-passout', 'pass:p', '-out', path.join(dir, 'aes128.pem')])
    await assert.rejects(decryptPkcs8(fromPem(fs.readFileSync(path.join(dir, 'aes128.pem'), 'utf8'), 'ENCRYPTED PRIVATE KEY')!, 'p'), /not AES-256-CBC/)
  })
})
