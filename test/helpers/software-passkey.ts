import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, webcrypto, type KeyObject } from 'node:crypto'
import type { AuthenticationResponseJSON, PublicKeyCredentialCreationOptionsJSON, RegistrationResponseJSON } from '@simplewebauthn/server'
import { isoCBOR } from '@simplewebauthn/server/helpers'
import { x509 } from '../../src/ca/x509.ts'

/**
 * The authenticator's side of WebAuthn, in software, for tests that need an attestation a
 * browser's virtual authenticator cannot give: a packed attestation whose certificate chain the
 * test makes (to a root of its own), self attestation, or none. PostCert verifies what it sends
 * exactly as it would a device's (@simplewebauthn/server, then its own attestation trust).
 */
export type SoftwareAttestation =
  | { kind: 'none' }
  | { kind: 'self' }
  | { kind: 'full'; chain: Uint8Array[]; key: KeyObject }

/**
 * What an attack test may choose instead of what an honest authenticator sends: the flags (0x45
 * at registration and 0x05 at sign-in are user present and verified), the signature counter (a
 * clone's stale one; otherwise it counts up from 1), the credential id (another's), the origin
 * its browser names.
 */
export interface Forged {
  flags?: number
  counter?: number
  id?: Buffer
  origin?: string
}

export class SoftwarePasskey {
  readonly id = randomBytes(16)
  readonly aaguid: Buffer
  readonly #key = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  readonly #attestation: SoftwareAttestation
  readonly #origin: string
  readonly #rpId: string
  #counter = 0
  #userHandle = ''

  constructor(origin: string, attestation: SoftwareAttestation, aaguid = randomBytes(16)) {
    this.#origin = origin
    this.#rpId = new URL(origin).hostname
    this.#attestation = attestation
    this.aaguid = aaguid
  }

  /** The AAGUID as PostCert and the FIDO Metadata Service write it. */
  get aaguidText(): string {
    const hex = this.aaguid.toString('hex')
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
  }

  /** navigator.credentials.create(), with user verification (unless `forged` says otherwise). */
  register(options: PublicKeyCredentialCreationOptionsJSON, forged: Omit<Forged, 'origin'> = {}): RegistrationResponseJSON {
    this.#userHandle = options.user.id
    const id = forged.id ?? this.id
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin: this.#origin, crossOrigin: false }))
    const jwk = this.#key.publicKey.export({ format: 'jwk' })
    const cose = isoCBOR.encode(new Map<number, number | Uint8Array>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')]]))
    const idLength = Buffer.alloc(2)
    idLength.writeUInt16BE(id.length)
    // flags: user present, user verified, attested credential data
    const authData = Buffer.concat([this.#rpIdHash(), Buffer.from([forged.flags ?? 0x45]), this.#count(forged.counter), this.aaguid, idLength, id, Buffer.from(cose)])
    const signed = Buffer.concat([authData, sha256(clientDataJSON)])
    const a = this.#attestation
    const attStmt = a.kind === 'none' ? new Map()
      : new Map<string, unknown>([['alg', -7], ['sig', sign('sha256', signed, a.kind === 'self' ? this.#key.privateKey : a.key)],
        ...(a.kind === 'full' ? [['x5c', a.chain] as [string, unknown]] : [])])
    const attestationObject = isoCBOR.encode(new Map<string, unknown>([['fmt', a.kind === 'none' ? 'none' : 'packed'], ['attStmt', attStmt], ['authData', authData]]) as never)
    return {
      id: id.toString('base64url'), rawId: id.toString('base64url'), type: 'public-key',
      response: { clientDataJSON: clientDataJSON.toString('base64url'), attestationObject: Buffer.from(attestationObject).toString('base64url'), transports: ['internal'] },
      clientExtensionResults: {}, authenticatorAttachment: 'platform',
    }
  }

  /** navigator.credentials.get() over `challenge` (base64url), with user verification (unless `forged` says otherwise). */
  assert(challenge: string, forged: Omit<Forged, 'id'> = {}): AuthenticationResponseJSON {
    const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge, origin: forged.origin ?? this.#origin, crossOrigin: false }))
    const authData = Buffer.concat([this.#rpIdHash(), Buffer.from([forged.flags ?? 0x05]), this.#count(forged.counter)])
    const signature = sign('sha256', Buffer.concat([authData, sha256(clientDataJSON)]), this.#key.privateKey)
    return {
      id: this.id.toString('base64url'), rawId: this.id.toString('base64url'), type: 'public-key',
      response: { clientDataJSON: clientDataJSON.toString('base64url'), authenticatorData: authData.toString('base64url'), signature: signature.toString('base64url'), userHandle: this.#userHandle },
      clientExtensionResults: {}, authenticatorAttachment: 'platform',
    }
  }

  #rpIdHash(): Buffer {
    return sha256(Buffer.from(this.#rpId))
  }

  /** The next signature counter, or the one chosen (counting goes on from there). */
  #count(chosen?: number): Buffer {
    this.#counter = chosen ?? this.#counter + 1
    const counter = Buffer.alloc(4)
    counter.writeUInt32BE(this.#counter)
    return counter
  }
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest()

const ES256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const

export interface TestCa {
  certificate: x509.X509Certificate
  keys: webcrypto.CryptoKeyPair
  /** DER */
  der: Uint8Array
  pem: string
}

/** A self-signed CA of the test's own (an authenticator maker's attestation root, or a metadata service's). */
export async function testCa(name: string, validity = { from: new Date(Date.now() - 86_400_000), to: new Date(Date.now() + 365 * 86_400_000) }): Promise<TestCa> {
  const keys = await webcrypto.subtle.generateKey(ES256, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomBytes(8).toString('hex'), name: `CN=${name}, O=PostCert Tests, C=KR`, notBefore: validity.from, notAfter: validity.to,
    keys, signingAlgorithm: ES256,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  })
  return { certificate, keys, der: new Uint8Array(certificate.rawData), pem: certificate.toString('pem') }
}

/**
 * An attestation certificate as FIDO's packed format requires (OU "Authenticator Attestation",
 * not a CA, the model's AAGUID in id-fido-gen-ce-aaguid), issued by `ca`; its private key too.
 */
export async function attestationCertificate(ca: TestCa, aaguid: Buffer, validity = { from: new Date(Date.now() - 86_400_000), to: new Date(Date.now() + 365 * 86_400_000) }): Promise<{ der: Uint8Array; key: KeyObject }> {
  const keys = await webcrypto.subtle.generateKey(ES256, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomBytes(8).toString('hex'), subject: 'C=KR, O=PostCert Test Authenticators, OU=Authenticator Attestation, CN=Test Batch', issuer: ca.certificate.subject,
    notBefore: validity.from, notAfter: validity.to, publicKey: keys.publicKey, signingKey: ca.keys.privateKey, signingAlgorithm: ES256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      // id-fido-gen-ce-aaguid: an OCTET STRING holding the 16-byte AAGUID
      new x509.Extension('1.3.6.1.4.1.45724.1.1.4', false, Buffer.concat([Buffer.from([0x04, 0x10]), aaguid])),
    ],
  })
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey))
  return { der: new Uint8Array(certificate.rawData), key: createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }) }
}
