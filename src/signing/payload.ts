// The signing payload: what a subscriber's key signs for an institution's signature request. One
// module for the browser (which signs), Node (which checks, archives and verifies) and anyone
// verifying later: the bytes are canonical JSON (RFC 8785: members sorted, no whitespace), so the
// same request always gives the same bytes and the same SHA-256.

export const SIGNING_PAYLOAD_VERSION = 1

export interface SigningPayload {
  v: typeof SIGNING_PAYLOAD_VERSION
  /** The PostCert that asked for the signature. */
  iss: string
  /** The institution (OAuth client) the signature is for. */
  client_id: string
  /**
   * Each document by title, media type and the SHA-256 of its bytes (base64url); texts are archived,
   * not signed twice. A document whose bytes are not its text (a PDF) adds the SHA-256 of the text
   * shown for it (text_sha256): what the subscriber read is signed too.
   */
  documents?: { title: string; mime_type?: string; sha256: string; text_sha256?: string }[]
  transaction?: { amount: string; currency: string; payee: string; account: string }
  /** PostCert's single-use challenge for this signature (base64url). */
  nonce: string
  /** When the payload was made, seconds since the epoch. */
  iat: number
}

type SignableRequest = { documents?: { title: string; mime_type?: string; sha256: string; text_sha256?: string }[]; transaction?: SigningPayload['transaction'] }

/** The documents as they are signed (and named in receipts and token responses): title, media type, digest; never the text. */
export function signedDocuments(request: SignableRequest): Pick<SigningPayload, 'documents'> {
  return request.documents ? { documents: request.documents.map((d) => ({ title: d.title, ...(d.mime_type ? { mime_type: d.mime_type } : {}), sha256: d.sha256, ...(d.text_sha256 ? { text_sha256: d.text_sha256 } : {}) })) } : {}
}

/** The parts of a request that are signed (the text of a document is covered by its sha256). */
export function signingPayload(request: SignableRequest, context: { iss: string; client_id: string; nonce: string; iat: number }): SigningPayload {
  return {
    v: SIGNING_PAYLOAD_VERSION,
    iss: context.iss,
    client_id: context.client_id,
    ...signedDocuments(request),
    ...(request.transaction ? { transaction: { amount: request.transaction.amount, currency: request.transaction.currency, payee: request.transaction.payee, account: request.transaction.account } } : {}),
    nonce: context.nonce,
    iat: context.iat,
  }
}

/**
 * RFC 8785 canonical JSON for what a payload holds (objects, arrays, strings, integers): members
 * sorted by their UTF-16 code units, no whitespace, strings and numbers as JSON.stringify writes them.
 */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const members = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined)
    members.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${members.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`
  }
  if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new TypeError('only safe integers are signed')
  return JSON.stringify(value)
}

export function payloadBytes(payload: SigningPayload): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(canonicalJson(payload))
}

/** SHA-256 of the payload bytes: what a passkey signs as its WebAuthn challenge, and what receipts name. */
export async function payloadSha256(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', bytes))
}
