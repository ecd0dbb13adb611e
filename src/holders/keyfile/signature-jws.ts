// A certificate file's signature of a signing payload (src/signing/payload.ts): a compact JWS (ES256)
// whose payload is the canonical payload bytes, with the certificate chain in x5c and the signing
// time in sigT (ETSI JAdES). Any JOSE library verifies it with the key of x5c[0].
import { decodeCompactJws, fromX5c, signCompactJws, toX5c, type CryptoKey } from './compact-jws.ts'

export const SIGNATURE_JWS_TYPE = 'postcert-signature+jws'
/** Longest signature accepted: a payload of 20 documents and a chain of three certificates fit well within. */
export const MAX_SIGNATURE_JWS_LENGTH = 64 * 1024

export async function createSignatureJws(privateKey: CryptoKey, chain: Uint8Array[], payload: Uint8Array, signedAt: Date): Promise<string> {
  // sigT is UTC to the second, as JAdES writes it.
  const sigT = `${signedAt.toISOString().slice(0, 19)}Z`
  return await signCompactJws(privateKey, { typ: SIGNATURE_JWS_TYPE, x5c: toX5c(chain), sigT }, payload)
}

export interface ParsedSignatureJws {
  header: { alg: string; typ: string; x5c: string[]; sigT: string }
  payload: Uint8Array<ArrayBuffer>
  signingInput: Uint8Array
  signature: Uint8Array
  /** The signer's certificate, DER. */
  leaf: Uint8Array<ArrayBuffer>
}

/** Splits and decodes a signature without trusting anything in it yet. Throws Error('...') on bad shape. */
export function parseSignatureJws(jws: string): ParsedSignatureJws {
  const decoded = decodeCompactJws(jws, MAX_SIGNATURE_JWS_LENGTH)
  const header = decoded.header as unknown as ParsedSignatureJws['header']
  if (header.typ !== SIGNATURE_JWS_TYPE) throw new Error('wrong typ')
  if (!Array.isArray(header.x5c) || header.x5c.length < 1 || header.x5c.some((c) => typeof c !== 'string')) throw new Error('missing x5c')
  if (typeof header.sigT !== 'string') throw new Error('missing sigT')
  return { header, payload: decoded.payload, signingInput: decoded.signingInput, signature: decoded.signature, leaf: fromX5c(header.x5c[0]!) }
}
