// Demo Bank's contract: what it asks its customer to sign through PostCert (a Rich Authorization
// Request, docs/signatures.md), and how it verifies what comes back.
import { createHash } from 'node:crypto'
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose'

export const CONTRACT_TITLE = '데모 은행 신용대출 약정서'
export const CONTRACT_TEXT = `# 신용대출 약정서

제1조 (대출 금액) 데모 은행은 고객에게 **5,000,000원**을 빌려 드립니다.

제2조 (이자) 연 *4.5%*의 고정 금리로, 매월 말일에 냅니다.

제3조 (기간과 상환)
- 대출 기간: 12개월
- 상환 방법: 매월 원리금 균등 분할 상환
- 중도 상환: 수수료 없이 언제든지

제4조 (철회) 고객은 계약서를 받은 날부터 14일 안에 이 계약을 철회할 수 있습니다.`

export const LOAN = { amount: '5000000', currency: 'KRW', payee: '데모 은행 대출 계좌', account: '데모 999-0000-000001' }

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('base64url')

/** The authorization_details entry: the contract (its text is the signed document) and the loan. */
export function contractSignatureRequest() {
  return [{
    type: 'postcert_signature',
    documents: [{ title: CONTRACT_TITLE, text: CONTRACT_TEXT, text_format: 'markdown', sha256: sha256(CONTRACT_TEXT) }],
    transaction: LOAN,
  }]
}

/** What PostCert's verifier answers (POST /signatures/verify). */
export interface VerificationReport {
  valid: boolean
  valid_at_signing: boolean
  status_now?: string
  revoked_at?: string
  revocation_reason?: string
  signed_at?: string
  signer?: { serial: string; subject: string; holder?: string }
  documents?: { title: string; sha256: string; text_matches?: boolean }[]
  checks: { name: string; ok: boolean; detail?: string }[]
}

export interface CheckedSignature {
  /** The receipt, verified here against PostCert's JWKS. */
  receipt: JWTPayload
  /** PostCert's verifier on the evidence and the contract text as `text` (the real one, or another). */
  report: VerificationReport
}

export class ContractVerifier {
  readonly #jwks: ReturnType<typeof createRemoteJWKSet>
  readonly #issuer: string
  readonly #clientId: string

  constructor(input: { issuer: string; jwksUri: string; clientId: string }) {
    this.#jwks = createRemoteJWKSet(new URL(input.jwksUri))
    this.#issuer = input.issuer
    this.#clientId = input.clientId
  }

  /**
   * Checks the receipt itself (PostCert's key, this bank, the signed bytes) and asks PostCert's
   * public verifier for the rest, with the document's text: how the certificate stood at signing
   * and stands now.
   */
  async check(evidence: Record<string, unknown>, text = CONTRACT_TEXT): Promise<CheckedSignature> {
    const { payload: receipt } = await jwtVerify(String(evidence.receipt), this.#jwks, {
      issuer: this.#issuer, audience: this.#clientId, typ: 'postcert-signature-receipt+jwt', algorithms: ['ES256'],
    })
    if (receipt.payload_sha256 !== sha256(String(evidence.payload))) throw new Error('the receipt names other signed bytes')
    const res = await fetch(`${this.#issuer}/signatures/verify`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...evidence, request: { documents: [{ title: CONTRACT_TITLE, text }] } }),
    })
    if (!res.ok) throw new Error(`PostCert's verifier answered ${res.status}`)
    return { receipt, report: await res.json() as VerificationReport }
  }
}
