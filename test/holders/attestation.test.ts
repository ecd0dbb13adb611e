import assert from 'node:assert/strict'
import { randomBytes, X509Certificate } from 'node:crypto'
import { describe, it } from 'node:test'
import * as jose from 'jose'
import { AttestationTrust } from '../../src/holders/webauthn/attestation.ts'
import { MdsBlobError, readMdsBlob } from '../../src/holders/webauthn/fido-mds.ts'
import { attestationCertificate, testCa, type TestCa } from '../helpers/software-passkey.ts'

const now = () => new Date()
const cert = (ca: TestCa) => new X509Certificate(ca.der)

/** A FIDO Metadata Service BLOB signed by a metadata root of the test's own. */
async function mdsBlob(entries: unknown[], signer?: TestCa) {
  const root = signer ?? await testCa('Test Metadata Root')
  const jwt = await new jose.SignJWT({ no: 7, nextUpdate: '2099-01-01', legalHeader: 'test', entries } as never)
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT', x5c: [Buffer.from(root.der).toString('base64')] })
    .sign(root.keys.privateKey)
  return { jwt, root }
}

describe('passkey attestation: which devices give the high level', () => {
  it('a chain to a trusted root in a hardware format is attested; none, self, other roots and other formats are not', async () => {
    const maker = await testCa('Test Authenticator Maker')
    const stranger = await testCa('Someone Else')
    const aaguid = randomBytes(16)
    const leaf = await attestationCertificate(maker, aaguid)
    const foreign = await attestationCertificate(stranger, aaguid)
    const trust = new AttestationTrust({ roots: [cert(maker)] })
    const id = '00112233-4455-6677-8899-aabbccddeeff'
    assert.deepEqual(trust.judge({ fmt: 'packed', aaguid: id, x5c: [leaf.der] }, now()), { attested: true })
    assert.equal(trust.judge({ fmt: 'packed', aaguid: id, x5c: [leaf.der, maker.der] }, now()).attested, true, 'the root sent along')
    assert.match(trust.judge({ fmt: 'none', aaguid: id, x5c: [] }, now()).reason!, /none attestation says nothing/)
    assert.match(trust.judge({ fmt: 'packed', aaguid: id, x5c: [] }, now()).reason!, /self attestation/)
    assert.match(trust.judge({ fmt: 'packed', aaguid: id, x5c: [foreign.der] }, now()).reason!, /does not chain to a trusted root/)
    assert.match(trust.judge({ fmt: 'fido-u2f', aaguid: id, x5c: [leaf.der] }, now()).reason!, /fido-u2f attestation says nothing/)
    assert.match(trust.judge({ fmt: 'packed', aaguid: id, x5c: [leaf.der, stranger.der] }, now()).reason!, /not signed by the next/)
    assert.match(trust.judge({ fmt: 'packed', aaguid: id, x5c: [new Uint8Array([1, 2, 3])] }, now()).reason!, /cannot be read/)
  })

  it('honours the AAGUID allow-list and the certificates\' validity', async () => {
    const maker = await testCa('Test Authenticator Maker')
    const leaf = await attestationCertificate(maker, randomBytes(16))
    const allowed = '00112233-4455-6677-8899-aabbccddeeff'
    const trust = new AttestationTrust({ roots: [cert(maker)], aaguids: [allowed.toUpperCase()] })
    assert.equal(trust.judge({ fmt: 'packed', aaguid: allowed, x5c: [leaf.der] }, now()).attested, true)
    assert.match(trust.judge({ fmt: 'packed', aaguid: '99999999-4455-6677-8899-aabbccddeeff', x5c: [leaf.der] }, now()).reason!, /not allowed/)
    assert.match(trust.judge({ fmt: 'packed', aaguid: allowed, x5c: [leaf.der] }, new Date(Date.now() + 400 * 86_400_000)).reason!, /not valid now/)
  })

  it('reads a FIDO Metadata Service BLOB offline: its hardware models\' roots are trusted, compromised and software models refused', async () => {
    const maker = await testCa('Test Authenticator Maker')
    const leaf = await attestationCertificate(maker, randomBytes(16))
    const good = 'aaaaaaaa-4455-6677-8899-aabbccddeeff'
    const bad = 'bbbbbbbb-4455-6677-8899-aabbccddeeff'
    const soft = 'eeeeeeee-4455-6677-8899-aabbccddeeff'
    const root = Buffer.from(maker.der).toString('base64')
    const { jwt, root: mdsRoot } = await mdsBlob([
      { aaguid: good, metadataStatement: { attestationRootCertificates: [root], keyProtection: ['hardware', 'secure_element'] }, statusReports: [{ status: 'FIDO_CERTIFIED_L1' }] },
      { aaguid: bad, metadataStatement: { attestationRootCertificates: [root], keyProtection: ['hardware'] }, statusReports: [{ status: 'FIDO_CERTIFIED' }, { status: 'ATTESTATION_KEY_COMPROMISE' }] },
      { aaguid: soft, metadataStatement: { attestationRootCertificates: [root], keyProtection: ['software'] }, statusReports: [{ status: 'FIDO_CERTIFIED_L1' }] },
      { aaid: '4e4e#4005', metadataStatement: {} },
    ])
    const blob = await readMdsBlob(jwt, [cert(mdsRoot)], now())
    assert.equal(blob.no, 7)
    assert.equal(blob.entries.size, 3, 'FIDO2 models only')
    // No roots of the operator's, and an allow-list that names neither: the BLOB alone decides.
    const trust = new AttestationTrust({ metadata: blob.entries, aaguids: ['cccccccc-4455-6677-8899-aabbccddeeff'] })
    assert.equal(trust.judge({ fmt: 'packed', aaguid: good, x5c: [leaf.der] }, now()).attested, true)
    assert.match(trust.judge({ fmt: 'packed', aaguid: bad, x5c: [leaf.der] }, now()).reason!, /ATTESTATION_KEY_COMPROMISE/)
    assert.match(trust.judge({ fmt: 'packed', aaguid: soft, x5c: [leaf.der] }, now()).reason!, /keys are kept in hardware/)
    assert.match(trust.judge({ fmt: 'packed', aaguid: 'dddddddd-4455-6677-8899-aabbccddeeff', x5c: [leaf.der] }, now()).reason!, /not allowed/)
  })

  it('refuses a BLOB from another root, with a changed payload, or that is no JWT', async () => {
    const { jwt, root } = await mdsBlob([])
    const other = await testCa('Another Metadata Root')
    await assert.rejects(readMdsBlob(jwt, [cert(other)], now()), (e: Error) => e instanceof MdsBlobError && /trusted metadata root/.test(e.message))
    const [h, , s] = jwt.split('.')
    const changed = `${h}.${Buffer.from(JSON.stringify({ no: 8, nextUpdate: '2099-01-01', entries: [] })).toString('base64url')}.${s}`
    await assert.rejects(readMdsBlob(changed, [cert(root)], now()), (e: Error) => e instanceof MdsBlobError && /signature does not verify/.test(e.message))
    await assert.rejects(readMdsBlob('not a blob', [cert(root)], now()), MdsBlobError)
  })
})
