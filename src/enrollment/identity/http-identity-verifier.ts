import { IdentityProviderError, type IdentityDocument, type IdentityResult, type IdentityVerifier } from './identity-verifier.ts'

const TIMEOUT_MS = 10_000

/**
 * A real identity verification provider over HTTP. Request: POST JSON
 * {document_type, name, birthdate, document_number, issue_date} with a bearer token. Response 200:
 * {verified: true, identity_key, name, birthdate, phones: ["+8210…"]} or
 * {verified: false, reason: "not_found" | "mismatch"}. Anything else is an IdentityProviderError.
 */
export class HttpIdentityVerifier implements IdentityVerifier {
  readonly kind = 'http' as const
  readonly #url: string
  readonly #token: string

  constructor(url: string, token: string) {
    this.#url = url
    this.#token = token
  }

  async verify(document: IdentityDocument): Promise<IdentityResult> {
    let res: Response
    try {
      res = await fetch(this.#url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.#token}` },
        body: JSON.stringify({
          document_type: document.type, name: document.name, birthdate: document.birthdate,
          document_number: document.number, issue_date: document.issueDate,
        }),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      })
    } catch (err) {
      throw new IdentityProviderError(`the identity provider did not answer (${(err as Error).name === 'TimeoutError' ? 'timeout' : (err as Error).message})`)
    }
    if (!res.ok) throw new IdentityProviderError(`the identity provider answered HTTP ${res.status}`)
    const body = await res.json().catch(() => undefined) as Record<string, unknown> | undefined
    if (body?.verified === false && (body.reason === 'not_found' || body.reason === 'mismatch')) return { verified: false, reason: body.reason }
    if (body?.verified === true && typeof body.identity_key === 'string' && typeof body.name === 'string'
      && typeof body.birthdate === 'string' && Array.isArray(body.phones) && body.phones.every((p) => typeof p === 'string')) {
      return { verified: true, identity: { identityKey: body.identity_key, name: body.name, birthdate: body.birthdate, phones: body.phones } }
    }
    throw new IdentityProviderError('the identity provider answered in an unexpected format')
  }
}
