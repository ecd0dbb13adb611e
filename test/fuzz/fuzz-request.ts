// A generated request is plain data that prints readably in fast-check's counterexamples. It
// names live values (a registered client, an interaction's cookies and CSRF token, tokens, a
// certificate serial) by placeholders such as `{{uid}}`, filled in when the request is sent:
// the fixtures change as the fuzzer consumes them (an aborted interaction, a rotated refresh
// token, a revoked certificate) and are renewed as soon as a request used them up, and all of
// them every 500 requests.

export const FAMILIES = ['oidc', 'interaction', 'enrollment', 'portal', 'pki', 'signatures'] as const
export type Family = typeof FAMILIES[number]

/** A request as generated: placeholders `{{name}}` in the target, header values and bodies. */
export interface FuzzRequest {
  family: Family
  method: string
  /** Path and query as they go on the wire: percent-encoded, or deliberately not. */
  target: string
  headers: Record<string, string>
  body?: FuzzBody
  /**
   * The request's own JWTs as {$jws} values (see FuzzBody), assembled when sent: the DPoP proof
   * `{{dpop_jwt}}`, the client assertion `{{assertion_jwt}}`, the request object `{{request_jwt}}`.
   */
  jwts?: Partial<Record<OwnJwt, unknown>>
}

/**
 * - text: sent as UTF-8 after placeholders are filled in
 * - bytes: sent as they are
 * - json: a value whose strings may hold placeholders and whose special objects ({$jws}, {$b64u},
 *   {$now}, {$fixture}) become compact JWSs, base64url JSON, timestamps and the fixture
 *   subscriber's public JWK; then JSON.stringify
 * - ocsp, evidence: the fixtures' valid OCSP request or real signature evidence, edited
 */
export type FuzzBody =
  | { text: string }
  | { bytes: Uint8Array }
  | { json: unknown }
  | { ocsp: ByteEdit[] }
  | { evidence: JsonEdit[] }

export type OwnJwt = 'dpop_jwt' | 'assertion_jwt' | 'request_jwt'

export interface ByteEdit { at: number; op: 'xor' | 'insert' | 'delete' | 'truncate'; byte: number }
export interface JsonEdit { pick: number; op: 'replace' | 'delete' | 'flip' | 'wrap'; value: unknown }
