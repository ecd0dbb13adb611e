// What an institution asks the subscriber to sign: one Rich Authorization Request detail (RFC 9396)
// of type `postcert_signature`, in the authorization request or through PAR. See docs/signatures.md.
import { createHash } from 'node:crypto'
import { z } from 'zod'

export const SIGNATURE_TYPE = 'postcert_signature'

/** The resource indicator of PostCert's signature API (oidc-provider needs one for authorization details). */
export const signaturesResource = (issuer: string) => `${issuer}/signatures`

/** Limits of a signature request; documented in docs/signatures.md. */
export const SIGNATURE_LIMITS = {
  documents: 20,
  titleChars: 200,
  /** Per document. A request as a whole: 56 KiB at /auth, 2 MiB pushed (PAR, MAX_PUSHED_REQUEST_BYTES). */
  textChars: 100_000,
  payeeChars: 200,
  accountChars: 100,
} as const

/** Media types of documents whose bytes are their text (UTF-8): the digest must be the text's. */
const TEXT_TYPES = new Set(['text/plain', 'text/markdown'])

/**
 * Characters that make a text look other than it is: bidirectional overrides and isolates,
 * zero-width characters, characters that show nothing (Hangul fillers, the soft hyphen, tags),
 * and (outside the document text's line breaks and tabs) control characters.
 */
const DECEPTIVE = /[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\u061c\u00ad\u115f\u1160\u3164\uffa0\u{e0000}-\u{e007f}]/u
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/
const CONTROL_BUT_LAYOUT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/

/**
 * Right-to-left scripts (Hebrew, Arabic, Syriac, Thaana, N'Ko and the rest of their blocks, and
 * the historic ones of the supplementary planes): a strong right-to-left letter reorders the
 * characters around it on the page (\u05d0 123-456 789 shows as 789 123-456 \u05d0), so what is
 * shown would not read as what is signed. A Korean institution's documents need none of them.
 */
const RIGHT_TO_LEFT = /[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff\u{10800}-\u{10fff}\u{1e800}-\u{1efff}]/u
const RTL_REFUSED = 'must not contain right-to-left letters (they reorder what is shown)'
/** What a title, payee or account may be written in: Hangul, Latin, Han, and the common digits, punctuation and symbols. */
const KOREAN_INSTITUTION_SCRIPTS = /^[\p{Script=Hangul}\p{Script=Latin}\p{Script=Han}\p{Script=Common}]*$/u

const b64urlSha256 = z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be a SHA-256 digest in base64url (43 characters)')
const text = (max: number) => z.string().refine((s) => s.trim() !== '', 'must not be blank').refine((s) => s.length <= max, `must be at most ${max} characters`)
  .refine((s) => !DECEPTIVE.test(s) && !CONTROL.test(s), 'must not contain control, zero-width or bidirectional override characters')
  .refine((s) => KOREAN_INSTITUTION_SCRIPTS.test(s), 'must be written in Hangul, Latin or Han letters, digits and common punctuation')
  // The Common script holds right-to-left characters too (Arabic punctuation, tatweel, Siyaq numbers).
  .refine((s) => !RIGHT_TO_LEFT.test(s), RTL_REFUSED)

const Document = z.object({
  title: text(SIGNATURE_LIMITS.titleChars),
  /** What the subscriber reads: plain text, or the safe Markdown subset with text_format "markdown". */
  text: z.string().min(1, 'must not be empty').max(SIGNATURE_LIMITS.textChars, `must be at most ${SIGNATURE_LIMITS.textChars} characters`)
    .refine((s) => s.trim() !== '', 'must not be blank')
    .refine((s) => !DECEPTIVE.test(s) && !CONTROL_BUT_LAYOUT.test(s), 'must not contain control, zero-width or bidirectional override characters (line breaks and tabs are fine)')
    .refine((s) => !RIGHT_TO_LEFT.test(s), RTL_REFUSED),
  text_format: z.enum(['plain', 'markdown']).optional(),
  /** Of the signed bytes; without it the signed bytes are the text itself (UTF-8). */
  mime_type: z.string().regex(/^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/, 'must be a media type such as application/pdf').max(100).optional(),
  /** SHA-256 of the signed bytes (base64url). */
  sha256: b64urlSha256,
}).strict()

const Transaction = z.object({
  /** A decimal string, so that no float rounds it: "1500000" or "12.50". */
  amount: z.string().regex(/^(0|[1-9]\d{0,14})(\.\d{1,4})?$/, 'must be a decimal string without sign or exponent, such as "1500000" or "12.50"'),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code such as KRW'),
  payee: text(SIGNATURE_LIMITS.payeeChars),
  account: text(SIGNATURE_LIMITS.accountChars),
}).strict()

const SignatureDetail = z.object({
  type: z.literal(SIGNATURE_TYPE),
  documents: z.array(Document).min(1, 'must list at least one document').max(SIGNATURE_LIMITS.documents, `must list at most ${SIGNATURE_LIMITS.documents} documents`).optional(),
  transaction: Transaction.optional(),
}).strict()

/**
 * A document as checked. For one whose bytes are not its text (a PDF: mime_type), PostCert can
 * show only the text the institution sent: `text_sha256` is that text's digest, signed beside
 * the bytes' so that the signature covers what the subscriber read.
 */
export type SignatureDocument = z.infer<typeof Document> & { text_sha256?: string }
export type SignatureTransaction = z.infer<typeof Transaction>
export type SignatureRequest = Omit<z.infer<typeof SignatureDetail>, 'documents'> & { documents?: SignatureDocument[] }

/** Thrown with the reason a detail is refused (oidc-provider answers invalid_authorization_details). */
export class SignatureRequestError extends Error {
  override name = 'SignatureRequestError'
}

/**
 * Checks a `postcert_signature` detail, strictly:
 * 1. only the known members, each of the right type and within its limits (SIGNATURE_LIMITS);
 * 2. documents, a transaction, or both: something to sign;
 * 3. a document without mime_type is its text, so its sha256 must be the text's: the
 *    subscriber signs exactly what they read. With a mime_type (a PDF, say), the text is what the
 *    institution shows of those bytes, which PostCert cannot show: the page says so, and that
 *    text is signed too (text_sha256);
 * 4. no right-to-left letters anywhere, and titles, payee and account in the scripts a Korean
 *    institution writes (what the page shows reads as what is signed).
 * Throws SignatureRequestError naming the member at fault.
 */
export function parseSignatureRequest(detail: unknown): SignatureRequest {
  const parsed = SignatureDetail.safeParse(detail)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const where = issue.path.reduce<string>((at, key) => typeof key === 'number' ? `${at}[${key}]` : at ? `${at}.${String(key)}` : String(key), '')
    const message = issue.code === 'unrecognized_keys' ? `unknown member ${issue.keys.map((k) => `"${k}"`).join(', ')}` : issue.message
    throw new SignatureRequestError(where ? `${where}: ${message}` : message)
  }
  const request: SignatureRequest = parsed.data
  if (!request.documents && !request.transaction) throw new SignatureRequestError('documents or transaction: there is nothing to sign')
  request.documents?.forEach((document, i) => {
    const isText = !document.mime_type || TEXT_TYPES.has(document.mime_type)
    if (isText && document.sha256 !== sha256(document.text)) {
      throw new SignatureRequestError(`documents[${i}].sha256: is not the SHA-256 of its text (a document without another mime_type is signed as its text)`)
    }
    if (!isText) document.text_sha256 = sha256(document.text)
  })
  return request
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('base64url')
