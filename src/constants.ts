// Lifetimes and limits in one place. Seconds unless the name says otherwise.

/** oidc-provider model lifetimes. Short for what a thief could replay, long for consent. */
export const TTL = {
  // Access tokens (from logins and client_credentials): ACCESS_TOKEN_SECONDS, at most IdToken.
  /** An authorization code is exchanged within seconds by a working client. */
  AuthorizationCode: 60,
  IdToken: 60 * 60,
  /** Rotated on each use; the chain ends after this long without use. */
  RefreshToken: 14 * 24 * 60 * 60,
  /** Time the subscriber has on the login and consent pages. */
  Interaction: 10 * 60,
  /**
   * A PostCert session: it keeps each institution's sid for logout, and its login is reused
   * without a new proof only at the institution it was made for, for LOGIN_REUSE_SECONDS.
   */
  Session: 8 * 60 * 60,
  /** Registration at an institution (the consent) lasts as long as a certificate: one year. */
  Grant: 365 * 24 * 60 * 60,
  PushedAuthorizationRequest: 60,
  BackchannelAuthenticationRequest: 10 * 60,
  DeviceCode: 10 * 60,
} as const

/**
 * Allowed clock difference between PostCert and its relying parties: FAPI 2.0 (section 5.3.1.1)
 * asks authorization servers to accept JWTs (client assertions, DPoP proofs) issued up to 10
 * seconds in the future.
 */
export const CLOCK_TOLERANCE_SECONDS = 10

/**
 * The longest-lived thing PostCert signs with an OIDC key today (ID tokens, JWT introspection;
 * access tokens are opaque, and ACCESS_TOKEN_SECONDS stays within this anyway).
 */
export const MAX_SIGNED_LIFETIME_SECONDS = TTL.IdToken

/** Requests still running after this long during shutdown are cut off. */
export const SHUTDOWN_GRACE_MS = 10_000

/** Largest pushed authorization request (PAR): signature requests carry the documents' texts. */
export const MAX_PUSHED_REQUEST_BYTES = 2 * 1024 * 1024

/** Largest form body accepted by PostCert's own pages. */
export const MAX_FORM_BYTES = 16 * 1024

/** How often each instance checks that the published CRL is fresh. */
export const CRL_CHECK_SECONDS = 60 * 60

/** How often each instance looks for expiry reminders to send (well under a day: the last one is due 1 day before). */
export const EXPIRY_REMINDER_SECONDS = 15 * 60

/**
 * How often each instance ends the logins of certificates that expired and retries back-channel
 * logouts that failed (a status change delivers its own at once).
 */
export const LOGOUT_NOTICE_SECONDS = 30

/** How often an instance adds its dashboard counts to the database (a crash loses at most this much of them). */
export const TALLY_FLUSH_SECONDS = 10

/** Rows deleted per sweeper statement. */
export const SWEEP_BATCH_SIZE = 1000

/**
 * How long an instance may reuse a subscriber's claims (name, birth date, phone) read for a login:
 * its token and userinfo requests follow within a second. They change only when a certificate is
 * reissued after identity proofing.
 */
export const SUBSCRIBER_CACHE_SECONDS = 5
