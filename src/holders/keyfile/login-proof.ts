// The certificate-file login proof: a compact JWS (ES256) made by the subscriber's key over
// {challenge, aud = issuer, interaction, iat}, with the certificate chain in x5c. One module for
// the browser (which signs) and Node (which verifies, and tests and benchmarks that sign).

import { decodeCompactJws, fromX5c, signCompactJws, toX5c, type CryptoKey } from './compact-jws.ts'

export { b64url, fromB64url } from './compact-jws.ts'

export const LOGIN_PROOF_TYPE = 'postcert-login+jwt'

export interface LoginProofClaims {
  /** The server's single-use challenge (base64url). */
  challenge: string
  /** The issuer: a proof made for one PostCert is refused by another. */
  aud: string
  /** The interaction uid: a proof made for one login is refused by another. */
  interaction: string
  /** Seconds since the epoch. */
  iat: number
}

const encoder = new TextEncoder()

/** Signs the proof with the subscriber's P-256 key; `chain` is DER, leaf first. */
export async function createLoginProof(privateKey: CryptoKey, chain: Uint8Array[], claims: LoginProofClaims): Promise<string> {
  return await signCompactJws(privateKey, { typ: LOGIN_PROOF_TYPE, x5c: toX5c(chain) }, encoder.encode(JSON.stringify(claims)))
}

export interface ParsedLoginProof {
  header: { alg: string; typ: string; x5c: string[] }
  claims: LoginProofClaims
  signingInput: Uint8Array
  signature: Uint8Array
  /** The leaf certificate, DER. */
  leaf: Uint8Array
}

/** Splits and decodes a proof without trusting anything in it yet. Throws Error('...') on bad shape. */
export function parseLoginProof(jws: string): ParsedLoginProof {
  const decoded = decodeCompactJws(jws, 16_384)
  const header = decoded.header as unknown as ParsedLoginProof['header']
  const claims = JSON.parse(new TextDecoder().decode(decoded.payload)) as LoginProofClaims
  if (header.typ !== LOGIN_PROOF_TYPE) throw new Error('wrong typ')
  if (!Array.isArray(header.x5c) || header.x5c.length < 1 || typeof header.x5c[0] !== 'string') throw new Error('missing x5c')
  if (typeof claims.challenge !== 'string' || typeof claims.aud !== 'string' || typeof claims.interaction !== 'string' || typeof claims.iat !== 'number') {
    throw new Error('missing claims')
  }
  return { header, claims, signingInput: decoded.signingInput, signature: decoded.signature, leaf: fromX5c(header.x5c[0]) }
}
