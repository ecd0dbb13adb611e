// The issuing CA's key on a PKCS#11 token (SoftHSM2 here, an HSM in production): a certificate and
// a CRL signed through the token verify with openssl, and the private key never leaves it (the
// token refuses to give its value).
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { webcrypto } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import pino from 'pino'
import { buildConfig } from '../../src/config/config.ts'
import { AppContext } from '../../src/context.ts'
import { encodeCrl } from '../../src/ca/crl-encoder.ts'
import { authorityKeyId, issuerName } from '../../src/ca/crl.ts'
import type { IssuingCa } from '../../src/ca/hierarchy.ts'
import { Pkcs11Error, pkcs11Signer, type Pkcs11Settings } from '../../src/ca/pkcs11-signer.ts'
import { buildSubscriberCertificate } from '../../src/ca/profile.ts'
import { webCryptoSigner } from '../../src/ca/signer.ts'
import { x509 } from '../../src/ca/x509.ts'
import { issueCertificate, openssl, subscriberKey } from '../helpers/pki.ts'
import { approveAsAnotherOperator } from '../helpers/approval.ts'
import { newMasterKey, runCli } from '../helpers/process.ts'
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

  it('postcert ca import names the token key; PostCert then issues, publishes the CRL and answers OCSP through the token, with no copy of the key', async () => {
    signer.close() // this test's session: PostCert opens its own
    const files = tempDir()
    const file = (name: string) => path.join(files, name)
    // The operator's root (its key stays with them), and the issuing CA certificate for the token's key.
    const rootKeys = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '0a', name: 'C=KR, O=PostCert HSM test, CN=Test Root', notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 10 * 86_400_000),
      keys: rootKeys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [new x509.BasicConstraintsExtension(true, 1, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
    })
    const tokenPublic = new x509.PublicKey(signer.publicKey.export({ format: 'der', type: 'spki' }))
    const issuing = await x509.X509CertificateGenerator.create({
      serialNumber: '0b', subject: 'C=KR, O=PostCert HSM test, CN=Token Issuing CA', issuer: root.subject,
      notBefore: new Date(Date.now() - 60_000), notAfter: new Date(Date.now() + 5 * 86_400_000), publicKey: tokenPublic, signingKey: rootKeys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        await x509.SubjectKeyIdentifierExtension.create(tokenPublic),
      ],
    })
    fs.writeFileSync(file('chain.pem'), issuing.toString('pem') + '\n' + root.toString('pem') + '\n')
    fs.writeFileSync(file('root.pem'), root.toString('pem'))
    fs.writeFileSync(file('issuing.pem'), issuing.toString('pem'))

    const env = {
      NODE_ENV: 'test', DATA_DIR: tempDir(), POSTCERT_MASTER_KEY: newMasterKey(), ADMIN_PORT: 'off', SOFTHSM2_CONF: process.env.SOFTHSM2_CONF!,
      PKCS11_LIBRARY: LIBRARY, PKCS11_TOKEN_LABEL: settings.tokenLabel, PKCS11_PIN: settings.pin,
    }
    const wrong = await runCli(['ca', 'import', '--chain', file('chain.pem'), '--pkcs11-key', 'no-such-key', '--yes'], env)
    assert.deepEqual([wrong.code, wrong.stderr], [1, `postcert: no key pair labelled no-such-key on the token ${settings.tokenLabel}\n`])
    const imported = await runCli(['ca', 'import', '--chain', file('chain.pem'), '--pkcs11-key', settings.keyLabel, '--yes'], env)
    assert.equal(imported.code, 0, imported.stderr)
    assert.equal((await approveAsAnotherOperator(env, imported.stdout)).status, 'executed')
    const shown = await runCli(['ca', 'show', '--json'], env)
    assert.deepEqual((JSON.parse(shown.stdout) as { role: string; key: string }[]).map((c) => [c.role, c.key]), [['root', 'offline'], ['issuing', `pkcs11:${settings.keyLabel}`]])

    const ctx = await AppContext.fromConfig(buildConfig(env), { masterKey: Buffer.from(env.POSTCERT_MASTER_KEY, 'base64url') }, { logger: pino({ level: 'silent' }), tool: true })
    try {
      assert.equal((await ctx.ca.issuing()).signer.keeper, 'pkcs11')
      const sealed = await ctx.db.selectFrom('ca_certificate').select(['role', 'sealed_key']).where('active', '=', true).execute()
      assert.deepEqual(sealed.map((r) => r.sealed_key), [null, null], 'no copy of any CA key in the database')
      const { certificate } = await issueCertificate(ctx.authority)
      fs.writeFileSync(file('subscriber.pem'), new x509.X509Certificate(certificate.der).toString('pem'))
      const verified = await openssl(['verify', '-CAfile', file('root.pem'), '-untrusted', file('issuing.pem'), file('subscriber.pem')])
      assert.match(verified.output, /subscriber\.pem: OK/, verified.output)
      fs.writeFileSync(file('crl.der'), (await ctx.crl.current()).der)
      assert.match((await openssl(['crl', '-inform', 'DER', '-in', file('crl.der'), '-CAfile', file('issuing.pem'), '-noout'])).output, /verify OK/)
      const request = await openssl(['ocsp', '-no_nonce', '-issuer', file('issuing.pem'), '-cert', file('subscriber.pem'), '-reqout', file('ocsp.req')])
      assert.equal(request.code, 0, request.output)
      fs.writeFileSync(file('ocsp.resp'), await ctx.ocsp.respond(fs.readFileSync(file('ocsp.req'))))
      const checked = await openssl(['ocsp', '-no_nonce', '-respin', file('ocsp.resp'), '-issuer', file('issuing.pem'), '-cert', file('subscriber.pem'), '-CAfile', file('root.pem'), '-verify_other', file('issuing.pem')])
      assert.match(checked.output, /Response verify OK/)
      assert.match(checked.output, /subscriber\.pem: good/)
    } finally {
      await ctx.close()
    }
    // Without the token's settings, PostCert says what it needs instead of signing with nothing.
    const { PKCS11_LIBRARY: _l, PKCS11_TOKEN_LABEL: _t, PKCS11_PIN: _p, ...without } = env
    const bare = await AppContext.fromConfig(buildConfig(without), { masterKey: Buffer.from(env.POSTCERT_MASTER_KEY, 'base64url') }, { logger: pino({ level: 'silent' }), tool: true })
    try {
      await assert.rejects(bare.ca.issuing(), /on a PKCS#11 token \(label issuing-2026\): set PKCS11_LIBRARY, PKCS11_TOKEN_LABEL and PKCS11_PIN/)
    } finally {
      await bare.close()
    }
    signer = await pkcs11Signer(settings)
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
