// Compact JWS (RFC 7515) made with a WebCrypto ECDSA P-256 key, and its decoding. One module for the
// browser and Node: the login proof and the signature of a document both use it.

/** CryptoKey, named so that this file type-checks with Node's types and with the DOM's. */
export type CryptoKey = Awaited<ReturnType<typeof globalThis.crypto.subtle.importKey>>

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

/** x5c members are standard base64 of DER (RFC 7515 4.1.6), not base64url. */
export function toX5c(chain: Uint8Array[]): string[] {
  return chain.map((der) => (NodeBuffer ? NodeBuffer.from(der).toString('base64') : btoa(String.fromCharCode(...der))))
}

export function fromX5c(member: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9+/]+=*$/.test(member)) throw new Error('x5c member is not base64')
  return NodeBuffer ? new Uint8Array(NodeBuffer.from(member, 'base64')) : Uint8Array.from(atob(member), (c) => c.charCodeAt(0))
}

/** ES256 over `header` (alg is set here) and `payload`, with the subscriber's P-256 key. */
export async function signCompactJws(privateKey: CryptoKey, header: Record<string, unknown>, payload: Uint8Array): Promise<string> {
  const h = b64url(encoder.encode(JSON.stringify({ alg: 'ES256', ...header })))
  const p = b64url(payload)
  const signature = await globalThis.crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, encoder.encode(`${h}.${p}`))
  return `${h}.${p}.${b64url(signature)}`
}

export interface DecodedJws {
  header: Record<string, unknown>
  payload: Uint8Array<ArrayBuffer>
  signingInput: Uint8Array
  /** IEEE P1363 (r || s) for ES256. */
  signature: Uint8Array
}

/** Splits and decodes a compact JWS without trusting anything in it yet. Throws Error('...') on bad shape. */
export function decodeCompactJws(jws: string, maxLength: number): DecodedJws {
  const parts = jws.split('.')
  if (parts.length !== 3 || jws.length > maxLength) throw new Error('not a compact JWS')
  const [h, p, s] = parts as [string, string, string]
  const header = JSON.parse(new TextDecoder().decode(fromB64url(h))) as unknown
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new Error('the JWS header is not an object')
  return { header: header as Record<string, unknown>, payload: fromB64url(p), signingInput: encoder.encode(`${h}.${p}`), signature: fromB64url(s) }
}
