import { createPublicKey } from 'node:crypto'
import { cose, decodeCredentialPublicKey } from '@simplewebauthn/server/helpers'
import { unsupportedKey } from '../../ca/errors.ts'

const b64url = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? new Uint8Array()).toString('base64url')

/** A WebAuthn credential public key (COSE) as SubjectPublicKeyInfo DER, for the certificate. */
export function coseToSpki(credentialPublicKey: Uint8Array): Buffer {
  const key = decodeCredentialPublicKey(new Uint8Array(credentialPublicKey))
  let jwk: Record<string, string>
  if (cose.isCOSEPublicKeyEC2(key)) {
    const crv = key.get(cose.COSEKEYS.crv)
    if (crv !== cose.COSECRV.P256 && crv !== cose.COSECRV.P384) throw unsupportedKey('passkeys must use P-256 or P-384')
    jwk = { kty: 'EC', crv: crv === cose.COSECRV.P256 ? 'P-256' : 'P-384', x: b64url(key.get(cose.COSEKEYS.x)), y: b64url(key.get(cose.COSEKEYS.y)) }
  } else if (cose.isCOSEPublicKeyRSA(key)) {
    jwk = { kty: 'RSA', n: b64url(key.get(cose.COSEKEYS.n)), e: b64url(key.get(cose.COSEKEYS.e)) }
  } else if (cose.isCOSEPublicKeyOKP(key) && key.get(cose.COSEKEYS.crv) === cose.COSECRV.ED25519) {
    jwk = { kty: 'OKP', crv: 'Ed25519', x: b64url(key.get(cose.COSEKEYS.x)) }
  } else {
    throw unsupportedKey('unsupported passkey algorithm')
  }
  return Buffer.from(createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'der', type: 'spki' }))
}
