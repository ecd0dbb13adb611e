// Demo Bank's sessions: in memory, keyed by a random id in an HttpOnly cookie. A real bank keeps
// them in its own store; the shape is what matters here.
import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { IDToken, UserInfoResponse } from 'openid-client'

/** An authorization request on its way, keyed by its state: several tabs may sign in at once. */
export interface PendingLogin {
  codeVerifier: string
  nonce: string
  /** The acr asked for with acr_values, checked again on the ID token. */
  acr?: string
  /** A signature of the contract was asked for (contract.ts). */
  signing?: boolean
}

export interface Login {
  idToken: string
  claims: IDToken
  userinfo: UserInfoResponse
  /** With offline_access: the bank keeps the customer signed in by refreshing (POST /refresh). */
  refreshToken?: string
}

export interface Session {
  readonly id: string
  /** For the logout form. */
  readonly csrf: string
  expiresAt: number
  pending: Map<string, PendingLogin>
  login?: Login
  /** The state sent with RP-initiated logout, to recognise the way back. */
  logoutState?: string
  /** The contract's signature as it came back: the token response's authorization_details entry. */
  signature?: Record<string, unknown>
}

/** Idle sessions end after an hour. */
const IDLE_MS = 60 * 60 * 1000
/** Drive-by /login requests must not grow memory without bound. */
const MAX_SESSIONS = 10_000
const MAX_PENDING = 5

export class SessionStore {
  readonly #sessions = new Map<string, Session>()

  get(id: string | undefined): Session | undefined {
    const session = id ? this.#sessions.get(id) : undefined
    if (!session) return undefined
    if (session.expiresAt < Date.now()) {
      this.#sessions.delete(session.id)
      return undefined
    }
    session.expiresAt = Date.now() + IDLE_MS
    return session
  }

  /** A new session; pass the old one to replace it (after login, so a planted id gains nothing). */
  create(replacing?: Session): Session {
    if (replacing) this.#sessions.delete(replacing.id)
    this.#sweep()
    const session: Session = {
      id: randomBytes(32).toString('base64url'), csrf: randomBytes(32).toString('base64url'),
      expiresAt: Date.now() + IDLE_MS, pending: new Map(),
    }
    this.#sessions.set(session.id, session)
    return session
  }

  addPending(session: Session, state: string, pending: PendingLogin): void {
    session.pending.set(state, pending)
    // Map order is insertion order: drop the oldest requests beyond the limit.
    for (const key of session.pending.keys()) {
      if (session.pending.size <= MAX_PENDING) break
      session.pending.delete(key)
    }
  }

  /** Ends every login matching a back-channel logout: by sid when given (one PostCert session), else every session of sub. */
  endLogins(target: { sid?: string; sub?: string }): number {
    let ended = 0
    for (const session of this.#sessions.values()) {
      const claims = session.login?.claims
      if (!claims) continue
      const matches = target.sid !== undefined
        ? claims.sid === target.sid && (target.sub === undefined || claims.sub === target.sub)
        : claims.sub === target.sub
      if (matches) {
        session.login = undefined
        ended++
      }
    }
    return ended
  }

  #sweep(): void {
    const now = Date.now()
    for (const session of this.#sessions.values()) if (session.expiresAt < now) this.#sessions.delete(session.id)
    // Oldest first (insertion order).
    for (const id of this.#sessions.keys()) {
      if (this.#sessions.size < MAX_SESSIONS) break
      this.#sessions.delete(id)
    }
  }
}

/** Constant-time comparison for the CSRF token. */
export function sameToken(expected: string, presented: string | null): boolean {
  const a = Buffer.from(expected)
  const b = Buffer.from(presented ?? '')
  return a.length === b.length && timingSafeEqual(a, b)
}
