import assert from 'node:assert/strict'
import { createHash, sign, webcrypto, X509Certificate } from 'node:crypto'
import { before, describe, it } from 'node:test'
import { Attribute, ContentInfo, SignedData } from '@peculiar/asn1-cms'
import { AsnConvert } from '@peculiar/asn1-schema'
import { x509 } from '../../src/ca/x509.ts'
import { signCompactJws, toX5c } from '../../src/holders/keyfile/compact-jws.ts'
import { LOGIN_PROOF_TYPE } from '../../src/holders/keyfile/login-proof.ts'
import { SIGNATURE_JWS_TYPE } from '../../src/holders/keyfile/signature-jws.ts'
import { AttributeSet } from '../../src/signing/cms-check.ts'
import { chainToAnchor, ocspAtSigning } from '../../src/signing/verify.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { LoginHarness } from '../login/harness.ts'
import { loginSuite } from '../helpers/suite.ts'

/** The DER header of `der` rewritten with a length in one more byte than it needs: BER, not DER. */
function paddedLength(der: Uint8Array): Uint8Array {
  const lengthBytes = der[1]! & 0x7f // the outer SEQUENCE of a CMS or OCSP response is long-form
  const content = der.subarray(2 + lengthBytes)
  return new Uint8Array([der[0]!, 0x80 | (lengthBytes + 1), 0, ...der.subarray(2, 2 + lengthBytes), ...content])
}

describe('what subscribers send is read strictly: JOSE by jose, ASN.1 by schema and in DER only', () => {
  let rp: Awaited<ReturnType<LoginHarness['relyingParty']>>
  const clock = new ManualClock()
  const { server, h, signing } = loginSuite(clock)
  before(async () => {
    rp = await h.relyingParty({ name: '엄격은행', redirectUri: 'https://strict.example.kr/cb' })
  })

  it('a login proof with a crit header the server does not understand is refused (RFC 7515 4.1.11)', async () => {
    const holder = await h.subscriber()
    const flow = await h.begin(rp)
    const { challenge } = (await h.api(flow.browser, flow.csrf, `/interaction/${flow.uid}/challenge`).expect(200)).body
    const chain = [holder.certificate.der, new Uint8Array((await server.ctx.ca.issuing()).certificate.rawData)]
    const claims = { challenge, aud: server.issuer, interaction: flow.uid, iat: Math.floor(clock.now().getTime() / 1000) }
    const proof = await signCompactJws(await h.webKey(holder.key), { typ: LOGIN_PROOF_TYPE, x5c: toX5c(chain), crit: ['x-must-understand'], 'x-must-understand': true },
      new TextEncoder().encode(JSON.stringify(claims)))
    const res = await h.api(flow.browser, flow.csrf, `/interaction/${flow.uid}/login/file`, { proof })
    assert.equal(res.status, 400)
    assert.equal(res.body.error, 'invalid_proof')
    assert.match(res.body.error_description, /not acceptable.*x-must-understand/)
  })

  it('a signature whose JWS has an unknown crit header, or whose CMS is BER or repeats a signed attribute, is refused', async () => {
    const holder = await h.subscriber()
    const key = await h.webKey(holder.key)
    const chain = await signing.chainOf(holder)

    let page = await signing.toSigningPage(rp, holder)
    const good = await signing.fileSignature(holder, page.canonical)
    const sigT = `${clock.now().toISOString().slice(0, 19)}Z`
    const critical = await signCompactJws(key, { typ: SIGNATURE_JWS_TYPE, x5c: toX5c(chain), sigT, crit: ['sigD'], sigD: {} }, new TextEncoder().encode(page.canonical))
    let res = await h.api(page.flow.browser, page.csrf, `${page.step.path}/sign/file`, { jws: critical, cms: good.cms })
    assert.equal(res.status, 400)
    assert.equal(res.body.error, 'invalid_signature')
    assert.match(res.body.error_description, /not acceptable.*sigD/)

    page = await signing.toSigningPage(rp, holder)
    const { jws, cms } = await signing.fileSignature(holder, page.canonical)
    const ber = Buffer.from(paddedLength(Buffer.from(cms, 'base64'))).toString('base64')
    res = await h.api(page.flow.browser, page.csrf, `${page.step.path}/sign/file`, { jws, cms: ber })
    assert.equal(res.status, 400)
    assert.match(res.body.error_description, /the CMS is not in DER/)

    // Two signingTime attributes, signed by the holder's own key: which one is the time of signing?
    page = await signing.toSigningPage(rp, holder)
    const fresh = await signing.fileSignature(holder, page.canonical)
    const info = AsnConvert.parse(Buffer.from(fresh.cms, 'base64'), ContentInfo)
    const signedData = AsnConvert.parse(info.content, SignedData)
    const signer = signedData.signerInfos[0]!
    const signingTime = signer.signedAttrs!.find((a) => a.attrType === '1.2.840.113549.1.9.5')!
    const later = new Uint8Array([0x17, 13, ...new TextEncoder().encode('491231235959Z')])
    signer.signedAttrs!.push(new Attribute({ attrType: signingTime.attrType, attrValues: [later.buffer] }))
    signer.signature.buffer = new Uint8Array(sign('sha256', Buffer.from(AsnConvert.serialize(new AttributeSet(signer.signedAttrs))), holder.key.privateKey)).buffer
    info.content = AsnConvert.serialize(signedData)
    const repeated = Buffer.from(AsnConvert.serialize(info)).toString('base64')
    res = await h.api(page.flow.browser, page.csrf, `${page.step.path}/sign/file`, { jws: fresh.jws, cms: repeated })
    assert.equal(res.status, 400)
    assert.match(res.body.error_description, /repeats a signed attribute/)

    // and the same holder signs fine the honest way
    page = await signing.toSigningPage(rp, holder)
    assert.equal((await signing.signFile(page, holder)).status, 200)
  })

  it('the verifier reads the OCSP response kept in a receipt in DER only, about this certificate only', async () => {
    const holder = await h.subscriber()
    const { evidence } = await signing.sign(rp, holder)
    const receipt = JSON.parse(Buffer.from(String(evidence.receipt).split('.')[1]!, 'base64url').toString()) as { ocsp: string; iat: number }
    const ocsp = Buffer.from(receipt.ocsp, 'base64')
    const issuing = new X509Certificate(Buffer.from((await server.ctx.ca.issuing()).certificate.rawData))
    const leaf = new X509Certificate(Buffer.from(holder.certificate.der))
    const at = new Date(receipt.iat * 1000)
    assert.equal(ocspAtSigning(ocsp, issuing, leaf, at), undefined)
    assert.match(ocspAtSigning(paddedLength(ocsp), issuing, leaf, at)!, /not in DER/)
    assert.match(ocspAtSigning(Buffer.concat([ocsp, Buffer.from([0])]), issuing, leaf, at)!, /not in DER|not readable/)
    const other = new X509Certificate(Buffer.from((await h.subscriber()).certificate.der))
    assert.match(ocspAtSigning(ocsp, issuing, other, at)!, /for another certificate/)
  })

  describe('the chain a verifier accepts', () => {
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' }
    const keys = () => webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>
    const year = 365 * 86_400_000
    let serial = 1
    /** A certificate for `subject`, signed by `issuer` (itself when absent), with these CA constraints. */
    async function certificate(subject: string, own: webcrypto.CryptoKeyPair, issuer?: { name: string; keys: webcrypto.CryptoKeyPair }, ca?: { pathLength?: number; isCa?: boolean }) {
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: (serial++).toString(16).padStart(2, '0'), subject, issuer: issuer?.name ?? subject,
        notBefore: new Date(Date.now() - year), notAfter: new Date(Date.now() + year),
        publicKey: own.publicKey, signingKey: (issuer?.keys ?? own).privateKey, signingAlgorithm: alg,
        extensions: ca ? [new x509.BasicConstraintsExtension(ca.isCa ?? true, ca.pathLength, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)]
          : [new x509.BasicConstraintsExtension(false, undefined, true)],
      })
      return new Uint8Array(cert.rawData)
    }
    async function path(root: { pathLength?: number; isCa?: boolean }, issuing: { pathLength?: number; isCa?: boolean }) {
      const [rootKeys, issuingKeys, leafKeys] = [await keys(), await keys(), await keys()]
      const rootDer = await certificate('CN=Root', rootKeys, undefined, root)
      const issuingDer = await certificate('CN=Issuing', issuingKeys, { name: 'CN=Root', keys: rootKeys }, issuing)
      const leaf = await certificate('CN=Leaf', leafKeys, { name: 'CN=Issuing', keys: issuingKeys })
      return chainToAnchor(new X509Certificate(leaf), [rootDer, issuingDer])
    }

    it('root and issuing CA with CA:TRUE and room for the issuing CA', async () => {
      assert.equal(typeof (await path({}, { pathLength: 0 })), 'object')
    })

    it('refuses an issuing CA that is not a CA, and a root whose path length leaves no room for one', async () => {
      assert.equal(await path({}, { isCa: false }), 'the issuing CA is not a CA (basicConstraints CA:TRUE)')
      assert.equal(await path({ pathLength: 0 }, { pathLength: 0 }), 'the root allows 0 CA certificates below it (path length)')
    })
  })

  it('the same checks hold for every signature already made: what PostCert archives verifies', async () => {
    const holder = await h.subscriber()
    const { evidence } = await signing.sign(rp, holder)
    const res = await fetch(`${server.url}/signatures/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(evidence) })
    const report = await res.json() as { valid: boolean; valid_at_signing: boolean; checks: unknown[] }
    assert.equal(report.valid_at_signing, true, JSON.stringify(report.checks))
    assert.equal(createHash('sha256').update(evidence.payload).digest('base64url'), evidence.payload_sha256)
  })
})
