// The certificate-file login proof: a compact JWS (ES256) made by the subscriber's key over
// {challenge, aud = issuer, interaction, iat}, with the certificate chain in x5c. One module for
// the browser (which signs) and Node (which verifies, and tests and benchmarks that sign).

/** CryptoKey, named so that this file type-checks with Node's types and with the DOM's. */
type CryptoKey = Awaited<ReturnType<typeof globalThis.crypto.subtle.importKey>>

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

/** Node's Buffer when there is one (the server decodes every proof), else the browser's atob/btoa. */
const NodeBuffer = (globalThis as { Buffer?: { from(data: Uint8Array | string, encoding?: string): Uint8Array & { toString(encoding: string): string } } }).Buffer

export function b64url(bytes: Uint8Array | ArrayBuffer): string {
  if (NodeBuffer) return NodeBuffer.from(new Uint8Array(bytes)).toString('base64url')
  let binary = ''
  for (const b of new Uint8Array(bytes)) binary += String.fromCharCode(b)
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/** Strict: anything but base64url characters is refused (atob would skip spaces). */
export function fromB64url(text: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error('not base64url')
  if (NodeBuffer) return new Uint8Array(NodeBuffer.from(text, 'base64url'))
  const padded = text.replace(/-/g, '+').replace(/_/g, '/')
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0))
}

/** Signs the proof with the subscriber's P-256 key; `chain` is DER, leaf first. */
export async function createLoginProof(privateKey: CryptoKey, chain: Uint8Array[], claims: LoginProofClaims): Promise<string> {
  // x5c is standard base64 (RFC 7515 4.1.6), not base64url.
  const x5c = chain.map((der) => btoa(String.fromCharCode(...der)))
  const header = b64url(encoder.encode(JSON.stringify({ alg: 'ES256', typ: LOGIN_PROOF_TYPE, x5c })))
  const payload = b64url(encoder.encode(JSON.stringify(claims)))
  const signature = await globalThis.crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, encoder.encode(`${header}.${payload}`))
  return `${header}.${payload}.${b64url(signature)}`
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
  const parts = jws.split('.')
  if (parts.length !== 3 || jws.length > 16_384) throw new Error('not a compact JWS')
  const [h, p, s] = parts as [string, string, string]
  const header = JSON.parse(new TextDecoder().decode(fromB64url(h))) as ParsedLoginProof['header']
  const claims = JSON.parse(new TextDecoder().decode(fromB64url(p))) as LoginProofClaims
  if (header.typ !== LOGIN_PROOF_TYPE) throw new Error('wrong typ')
  if (!Array.isArray(header.x5c) || header.x5c.length < 1 || typeof header.x5c[0] !== 'string') throw new Error('missing x5c')
  if (typeof claims.challenge !== 'string' || typeof claims.aud !== 'string' || typeof claims.interaction !== 'string' || typeof claims.iat !== 'number') {
    throw new Error('missing claims')
  }
  return {
    header, claims, signingInput: encoder.encode(`${h}.${p}`), signature: fromB64url(s),
    leaf: NodeBuffer ? new Uint8Array(NodeBuffer.from(header.x5c[0], 'base64')) : Uint8Array.from(atob(header.x5c[0]), (c) => c.charCodeAt(0)),
  }
}
