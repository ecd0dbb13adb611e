import { createHash, createPrivateKey, type KeyObject } from 'node:crypto'
import { SignJWT } from 'jose'
import { publicJwk, type PrivateJwk } from '../keys/signing-keys.ts'
import type { SigningPayload } from './payload.ts'

export const RECEIPT_TYPE = 'postcert-signature-receipt+jwt'

/** What PostCert attests about a signature; the JWT's iss, sub, aud, iat and jti come beside. */
export interface ReceiptContent {
  /** base64url SHA-256 of the signed bytes. */
  payload_sha256: string
  documents?: SigningPayload['documents']
  transaction?: SigningPayload['transaction']
  signer: { serial: string; 'x5t#S256': string; holder: 'file' | 'passkey' }
  /** The certificate's status when PostCert received the signature, and the OCSP response saying so (base64 DER). */
  certificate_status: 'good'
  ocsp: string
  /** The subscriber's signature itself: e.g. { format: 'jws', jws }. */
  signature: Record<string, unknown>
}

/**
 * Signs receipts with PostCert's active EC OIDC key: it is in the JWKS, so an institution verifies
 * a receipt as it verifies an ID token. The key follows rotation (use() on every provider build).
 */
export class ReceiptSigner {
  #key: { kid: string; key: KeyObject; publicJwk: ReturnType<typeof publicJwk> } | undefined

  use(jwks: PrivateJwk[]): void {
    // publishedJwks lists the active keys first and marks all others verify-only.
    const active = jwks.find((jwk) => jwk.kty === 'EC' && !jwk.key_ops)
    if (!active) throw new Error('no active EC signing key')
    this.#key = { kid: active.kid, key: createPrivateKey({ key: active, format: 'jwk' }), publicJwk: publicJwk(active) }
  }

  /** Runs `sign` with the active key, taken once (a rotation may swap it meanwhile). */
  async signWith<T>(sign: (key: { kid: string; key: KeyObject; publicJwk: ReturnType<typeof publicJwk> }) => Promise<T>): Promise<T> {
    const key = this.#key
    if (!key) throw new Error('receipt signer has no key yet')
    return await sign(key)
  }

  /** The receipt, and the public key that signed it (kept in receipt_key with the signature). */
  async sign(input: { issuer: string; subject: string; clientId: string; id: string; signedAt: Date; content: ReceiptContent }): Promise<{ receipt: string; key: ReturnType<typeof publicJwk> }> {
    // Taken once: a rotation may swap the key while this receipt is being signed.
    const key = this.#key
    if (!key) throw new Error('receipt signer has no key yet')
    const receipt = await new SignJWT({ ...input.content })
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: RECEIPT_TYPE })
      .setIssuer(input.issuer).setSubject(input.subject).setAudience(input.clientId)
      .setIssuedAt(Math.floor(input.signedAt.getTime() / 1000)).setJti(input.id)
      .sign(key.key)
    return { receipt, key: key.publicJwk }
  }
}

/**
 * A statement PostCert signs with the same key as its receipts (an audit export's digest): a JWT
 * of type `typ`, verifiable with the JWKS while the key is published, and with the public key
 * returned beside it afterwards.
 */
export async function signStatement(signer: ReceiptSigner, typ: string, claims: Record<string, unknown>, issuer: string, at: Date): Promise<{ jws: string; key: ReturnType<typeof publicJwk> }> {
  return await signer.signWith(async (key) => ({
    jws: await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: key.kid, typ })
      .setIssuer(issuer).setIssuedAt(Math.floor(at.getTime() / 1000))
      .sign(key.key),
    key: key.publicJwk,
  }))
}

export const thumbprint = (der: Uint8Array) => createHash('sha256').update(der).digest('base64url')
