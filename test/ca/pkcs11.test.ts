// The issuing CA's key on a PKCS#11 token (SoftHSM2 here, an HSM in production): a certificate and
// a CRL signed through the token verify with openssl, and the private key never leaves it (the
// token refuses to give its value).
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { encodeCrl } from '../../src/ca/crl-encoder.ts'
import { authorityKeyId, issuerName } from '../../src/ca/crl.ts'
import type { IssuingCa } from '../../src/ca/hierarchy.ts'
import { Pkcs11Error, pkcs11Signer, type Pkcs11Settings } from '../../src/ca/pkcs11-signer.ts'
import { buildSubscriberCertificate } from '../../src/ca/profile.ts'
import { webCryptoSigner } from '../../src/ca/signer.ts'
import { x509 } from '../../src/ca/x509.ts'
import { openssl, subscriberKey } from '../helpers/pki.ts'
import { tempDir } from '../helpers/server.ts'

const LIBRARY = '/usr/lib/softhsm/libsofthsm2.so'
const binding = (await import('pkcs11js').catch(() => undefined))?.default
const NEEDS_SOFTHSM = !fs.existsSync(LIBRARY) ? `install SoftHSM2 (apt-get install -y softhsm2) at ${LIBRARY}`
  : !binding ? 'the optional pkcs11js binding is not built (npm rebuild pkcs11js; it needs python3, make, g++ and the Node headers)' : false

describe('the issuing CA key on a PKCS#11 token (SoftHSM2)', { skip: NEEDS_SOFTHSM }, () => {
  const dir = tempDir('postcert-softhsm-')
  const settings: Pkcs11Settings = { library: LIBRARY, tokenLabel: 'postcert-ca', pin: '246810', keyLabel: 'issuing-2026' }
  let signer: Awaited<ReturnType<typeof pkcs11Signer>>

  before(async () => {
    // A token of this test's own, created as an operator would in a key ceremony.
    fs.mkdirSync(path.join(dir, 'tokens'))
    fs.writeFileSync(path.join(dir, 'softhsm2.conf'), `directories.tokendir = ${path.join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`)
    process.env.SOFTHSM2_CONF = path.join(dir, 'softhsm2.conf')
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', settings.tokenLabel, '--pin', settings.pin, '--so-pin', '13579135'], { env: process.env, stdio: 'ignore' })
    const p11 = new binding!.PKCS11()
    p11.load(LIBRARY)
    p11.C_Initialize()
    try {
      const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === settings.tokenLabel)!
      const session = p11.C_OpenSession(slot, binding!.CKF_SERIAL_SESSION | binding!.CKF_RW_SESSION)
      p11.C_Login(session, binding!.CKU_USER, settings.pin)
      const label = { type: binding!.CKA_LABEL, value: settings.keyLabel }
      p11.C_GenerateKeyPair(session, { mechanism: binding!.CKM_EC_KEY_PAIR_GEN }, [
        { type: binding!.CKA_TOKEN, value: true }, { type: binding!.CKA_VERIFY, value: true }, label,
        { type: binding!.CKA_EC_PARAMS, value: Buffer.from('06082a8648ce3d030107', 'hex') },
      ], [
        { type: binding!.CKA_TOKEN, value: true }, { type: binding!.CKA_PRIVATE, value: true }, { type: binding!.CKA_SIGN, value: true }, label,
        // Generated on the token and never to leave it.
        { type: binding!.CKA_SENSITIVE, value: true }, { type: binding!.CKA_EXTRACTABLE, value: false },
      ])
      p11.C_Logout(session)
      p11.C_CloseSession(session)
    } finally {
      p11.C_Finalize()
    }
    signer = await pkcs11Signer(settings)
  })
  after(() => {
    signer?.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('signs a CA certificate, a subscriber certificate and a CRL that openssl verifies', async () => {
    assert.equal(signer.keeper, 'pkcs11')
    const { signingKey, crypto } = webCryptoSigner(signer)
    const publicKey = new x509.PublicKey(signer.publicKey.export({ format: 'der', type: 'spki' }))
    const now = new Date()
    const caCertificate = await x509.X509CertificateGenerator.create({
      serialNumber: '01', subject: 'C=KR, O=PostCert HSM test, CN=PostCert HSM Issuing CA', issuer: 'C=KR, O=PostCert HSM test, CN=PostCert HSM Issuing CA',
      notBefore: new Date(now.getTime() - 60_000), notAfter: new Date(now.getTime() + 86_400_000), publicKey, signingKey,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(publicKey),
      ],
    }, crypto)
    const ca: IssuingCa = { id: 'hsm', certificate: caCertificate, signer, root: caCertificate }
    const holder = subscriberKey()
    const certificate = await buildSubscriberCertificate({
      serial: '7a1b2c3d', subscriberId: 'ps_hsm', displayName: '홍길동', holder: 'file', spki: holder.spki,
      notBefore: now, notAfter: new Date(now.getTime() + 3_600_000),
    }, ca, { crl: 'https://id.postcert.test/pki/crl', ocsp: 'https://id.postcert.test/pki/ocsp', caIssuers: 'https://id.postcert.test/pki/issuing.cer' })
    const crl = await encodeCrl({ issuerName: issuerName(ca), authorityKeyId: authorityKeyId(ca), thisUpdate: now, nextUpdate: new Date(now.getTime() + 86_400_000), number: 1 }, [], signer)

    const files = tempDir()
    fs.writeFileSync(path.join(files, 'ca.pem'), caCertificate.toString('pem'))
    fs.writeFileSync(path.join(files, 'subscriber.pem'), certificate.toString('pem'))
    fs.writeFileSync(path.join(files, 'crl.der'), crl)
    const verified = await openssl(['verify', '-CAfile', path.join(files, 'ca.pem'), path.join(files, 'subscriber.pem')])
    assert.equal(verified.code, 0, verified.output)
    assert.match(verified.output, /subscriber\.pem: OK/)
    const crlChecked = await openssl(['crl', '-inform', 'DER', '-in', path.join(files, 'crl.der'), '-CAfile', path.join(files, 'ca.pem'), '-noout'])
    assert.match(crlChecked.output, /verify OK/)
  })

  it('cannot read the private key back, and refuses a wrong PIN or an unknown key clearly', async () => {
    signer.close()
    const p11 = new binding!.PKCS11()
    p11.load(LIBRARY)
    p11.C_Initialize()
    try {
      const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === settings.tokenLabel)!
      const session = p11.C_OpenSession(slot, binding!.CKF_SERIAL_SESSION)
      p11.C_Login(session, binding!.CKU_USER, settings.pin)
      p11.C_FindObjectsInit(session, [{ type: binding!.CKA_CLASS, value: binding!.CKO_PRIVATE_KEY }, { type: binding!.CKA_LABEL, value: settings.keyLabel }])
      const key = p11.C_FindObjects(session)!
      p11.C_FindObjectsFinal(session)
      const [extractable] = p11.C_GetAttributeValue(session, key, [{ type: binding!.CKA_EXTRACTABLE }])
      assert.deepEqual(Buffer.from(extractable!.value as Buffer), Buffer.from([0]), 'not extractable')
      assert.throws(() => p11.C_GetAttributeValue(session, key, [{ type: binding!.CKA_VALUE }]), /CKR_ATTRIBUTE_SENSITIVE/)
      p11.C_CloseSession(session)
    } finally {
      p11.C_Finalize()
    }
    await assert.rejects(pkcs11Signer({ ...settings, pin: '000000' }), (err: Error) => err instanceof Pkcs11Error && /refused the PIN/.test(err.message))
    await assert.rejects(pkcs11Signer({ ...settings, keyLabel: 'nope' }), (err: Error) => err instanceof Pkcs11Error && /no key pair labelled nope/.test(err.message))
    await assert.rejects(pkcs11Signer({ ...settings, tokenLabel: 'other' }), (err: Error) => err instanceof Pkcs11Error && /no token labelled other/.test(err.message))
    signer = await pkcs11Signer(settings)
  })
})
