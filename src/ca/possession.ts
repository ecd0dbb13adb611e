import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto'
import { invalidPossessionProof, unsupportedKey } from './errors.ts'

/**
 * Proof that the requester holds the private key of the public key to be certified: a signature
 * over a single-use challenge from the CA.
 * - `signature`: the key signed the challenge bytes directly (certificate file holder, WebCrypto:
 *   ECDSA P-256/P-384 with SHA-256/384 in IEEE P1363 or DER form, RSASSA-PKCS1-v1_5 SHA-256, Ed25519).
 * - `webauthn`: a WebAuthn assertion whose clientDataJSON carries the challenge (passkey holder).
 */
export type PossessionProof =
  | { type: 'signature'; challenge: Buffer; signature: Buffer }
  | { type: 'webauthn'; challenge: Buffer; authenticatorData: Buffer; clientDataJSON: Buffer; signature: Buffer }

/** Parses and checks a subscriber public key (SPKI DER): P-256, P-384, RSA >= 2048 bits or Ed25519. */
export function subscriberKey(spki: Buffer): KeyObject {
  let key: KeyObject
  try {
    key = createPublicKey({ key: spki, format: 'der', type: 'spki' })
  } catch {
    throw unsupportedKey('the public key is not a valid SubjectPublicKeyInfo')
  }
  const details = key.asymmetricKeyDetails ?? {}
  switch (key.asymmetricKeyType) {
    case 'ec':
      if (details.namedCurve === 'prime256v1' || details.namedCurve === 'secp384r1') return key
      throw unsupportedKey(`EC keys must be on P-256 or P-384, not ${details.namedCurve}`)
    case 'rsa':
      if ((details.modulusLength ?? 0) >= 2048) return key
      throw unsupportedKey('RSA keys must have at least 2048 bits')
    case 'ed25519':
      return key
    default:
      throw unsupportedKey(`unsupported key type ${key.asymmetricKeyType}`)
  }
}

/**
 * Checks the proof's signature against the key. Whether the challenge is one the CA issued and
 * still unused is checked by the CA when it consumes it.
 */
export function verifyPossession(key: KeyObject, proof: PossessionProof): void {
  let signed: Buffer
  if (proof.type === 'webauthn') {
    // WebAuthn signs authenticatorData || SHA-256(clientDataJSON); the challenge is inside the latter.
    let clientData: { type?: unknown; challenge?: unknown }
    try {
      clientData = JSON.parse(proof.clientDataJSON.toString('utf8')) as { type?: unknown; challenge?: unknown }
    } catch {
      throw invalidPossessionProof('clientDataJSON is not JSON')
    }
    if (clientData.type !== 'webauthn.get') throw invalidPossessionProof('the WebAuthn response is not an assertion')
    if (clientData.challenge !== proof.challenge.toString('base64url')) throw invalidPossessionProof('the WebAuthn assertion is for another challenge')
    signed = Buffer.concat([proof.authenticatorData, createHash('sha256').update(proof.clientDataJSON).digest()])
  } else {
    signed = proof.challenge
  }
  if (!checkSignature(key, signed, proof.signature)) throw invalidPossessionProof('the signature does not verify with the public key')
}

function checkSignature(key: KeyObject, data: Buffer, signature: Buffer): boolean {
  try {
    switch (key.asymmetricKeyType) {
      case 'ec': {
        const p384 = key.asymmetricKeyDetails?.namedCurve === 'secp384r1'
        const hash = p384 ? 'sha384' : 'sha256'
        // WebCrypto produces r||s (P1363); WebAuthn and most tools produce DER.
        const dsaEncoding = signature.length === (p384 ? 96 : 64) ? 'ieee-p1363' : 'der'
        return verify(hash, data, { key, dsaEncoding }, signature)
      }
      case 'rsa':
        return verify('sha256', data, key, signature)
      case 'ed25519':
        return verify(null, data, key, signature)
      default:
        return false
    }
  } catch {
    return false
  }
}
