// Back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0, section 2.6).
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload } from 'jose'

const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout'
/** PostCert signs with its own asymmetric keys: never accept an HMAC or `none`. */
const ALGORITHMS = ['ES256', 'PS256', 'RS256']
/** A logout token is delivered at once; an older one is a replay. */
const MAX_TOKEN_AGE = '5m'

export class InvalidLogoutTokenError extends Error {}

export interface LogoutTarget {
  sid?: string
  sub?: string
}

export class LogoutTokenVerifier {
  readonly #jwks: ReturnType<typeof createRemoteJWKSet>
  readonly #issuer: string
  readonly #clientId: string
  /** jti -> expiry (ms): a token seen once is refused until it expires anyway. */
  readonly #seen = new Map<string, number>()

  constructor(input: { jwksUri: string; issuer: string; clientId: string }) {
    this.#jwks = createRemoteJWKSet(new URL(input.jwksUri))
    this.#issuer = input.issuer
    this.#clientId = input.clientId
  }

  /**
   * Checks, in order:
   * - signature by a key in PostCert's JWKS, iss, aud = our client_id, iat, exp, not older than
   *   MAX_TOKEN_AGE (jose);
   * - typ, when present, is logout+jwt: an ID token must not pass for a logout token;
   * - events names the back-channel logout event with an object value: this is what makes it a
   *   logout token;
   * - sid or sub present: otherwise there is nothing to log out;
   * - no nonce: the spec forbids it, to tell logout tokens from ID tokens;
   * - jti not seen before: replay protection (last, so a refused token does not use up its jti).
   */
  async verify(token: string): Promise<LogoutTarget> {
    let payload: JWTPayload
    try {
      const result = await jwtVerify(token, this.#jwks, {
        issuer: this.#issuer, audience: this.#clientId, algorithms: ALGORITHMS,
        maxTokenAge: MAX_TOKEN_AGE, requiredClaims: ['iat', 'exp', 'jti', 'events'],
      })
      if (result.protectedHeader.typ !== undefined && result.protectedHeader.typ !== 'logout+jwt') {
        throw new InvalidLogoutTokenError('typ must be logout+jwt')
      }
      payload = result.payload
    } catch (err) {
      if (err instanceof InvalidLogoutTokenError) throw err
      // jose's messages name the failed check and never echo secrets.
      if (err instanceof errors.JOSEError) throw new InvalidLogoutTokenError(`logout_token: ${err.message}`)
      throw err
    }
    const { jti, events, sid, sub, nonce } = payload as JWTPayload & { events?: unknown; sid?: unknown; nonce?: unknown }
    const event = typeof events === 'object' && events !== null ? (events as Record<string, unknown>)[BACKCHANNEL_LOGOUT_EVENT] : undefined
    if (typeof event !== 'object' || event === null || Array.isArray(event)) throw new InvalidLogoutTokenError('logout_token has no back-channel logout event')
    if (typeof sid !== 'string' && typeof sub !== 'string') throw new InvalidLogoutTokenError('logout_token has neither sid nor sub')
    if (nonce !== undefined) throw new InvalidLogoutTokenError('logout_token must not contain a nonce')
    if (this.#replayed(String(jti), payload.exp!)) throw new InvalidLogoutTokenError('logout_token was already used')
    return { sid: typeof sid === 'string' ? sid : undefined, sub: typeof sub === 'string' ? sub : undefined }
  }

  #replayed(jti: string, exp: number): boolean {
    const now = Date.now()
    for (const [id, until] of this.#seen) if (until < now) this.#seen.delete(id)
    if (this.#seen.has(jti)) return true
    this.#seen.set(jti, exp * 1000)
    return false
  }
}
