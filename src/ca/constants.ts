// The certificate authority's fixed parameters. Subscriber validity and the renewal window are
// settings (CERT_VALIDITY_DAYS, RENEWAL_WINDOW_DAYS); these are not.

export const DAY_MS = 24 * 60 * 60 * 1000

export const ROOT_VALIDITY_YEARS = 20
export const ISSUING_VALIDITY_YEARS = 5

/**
 * PostCert's OID arc, under 2.25 (UUID-based OIDs, ITU-T X.667), which needs no registration.
 * Policies: .1.1 certificate held by a passkey whose attestation PostCert verified (hardware-bound,
 *                user verification: loa:high),
 *           .1.2 certificate held in a password-protected file (loa:substantial),
 *           .1.3 certificate held by a passkey whose device was not attested (user verification,
 *                key protection unknown: loa:substantial).
 */
export const POSTCERT_OID_ARC = '2.25.218079405337465306498611413416520318931'
export const POLICY_OIDS = {
  passkey: `${POSTCERT_OID_ARC}.1.1`,
  file: `${POSTCERT_OID_ARC}.1.2`,
  passkeyUnattested: `${POSTCERT_OID_ARC}.1.3`,
} as const

/** A proof-of-possession challenge must be answered within this many seconds. */
export const CHALLENGE_TTL_SECONDS = 5 * 60

/** A CRL promises its successor within a day, and is rebuilt after half of that. */
export const CRL_NEXT_UPDATE_MS = DAY_MS
export const CRL_REFRESH_MS = DAY_MS / 2

/** At most this many CRL partitions (CRL_PARTITIONS): /pki/crl/0 to /pki/crl/4095. */
export const CRL_PARTITIONS_MAX = 4096

/**
 * A CRL whose last build took CRL_SPACED_BUILD_MS or more (a few hundred thousand entries) is
 * rebuilt at most every CRL_BUILD_SPACING times that long (and never more often than
 * CRL_MIN_INTERVAL_SECONDS): a complete CRL of a million entries does not keep a core busy however
 * often statuses change. (Wall time: on a loaded machine a smaller CRL may reach it too.)
 */
export const CRL_SPACED_BUILD_MS = 5000
export const CRL_BUILD_SPACING = 10

/** Published CRLs an instance keeps in memory, in bytes: the least recently served go first (the last one served always stays). */
export const CRL_MEMORY_BYTES = 64 * 1024 * 1024

/** At most this many certificates are asked about in one OCSP request. */
export const OCSP_MAX_REQUESTS = 20

/**
 * An instance looks for status changes made by others (certificate_status_version) at most this
 * often before it serves a pre-signed OCSP response: the bound on how stale one can be.
 */
export const OCSP_VERSION_CHECK_MS = 1000

/** Pre-signed OCSP responses an instance keeps in memory at most (the oldest go first). */
export const OCSP_PRESIGNED_MAX = 100_000

/** RFC 5280 revocation reasons a caller may give (certificateHold is suspension, not revocation). */
export const REVOCATION_REASONS = [
  'unspecified', 'keyCompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'privilegeWithdrawn',
] as const
export type RevocationReason = (typeof REVOCATION_REASONS)[number]
/** What an operator may give: superseded is the CA's own, for renewal and reissue. */
export const OPERATOR_REVOCATION_REASONS = REVOCATION_REASONS.filter((r): r is Exclude<RevocationReason, 'superseded'> => r !== 'superseded')

/**
 * Certificates one subscriber may hold in use at once (valid or suspended, not expired): e.g. a
 * passkey on the phone and a certificate file on the PC. Enrollment (identity proven again)
 * replaces them all; renewal replaces one by one.
 */
export const MAX_CERTIFICATES_IN_USE = 2

/** How often a read replica found behind the status version is asked for its version again (status-version.ts). */
export const REPLICA_RECHECK_MS = 100

/** How long a read replica that failed is left alone: requests meanwhile do not wait for it to time out. */
export const REPLICA_RETRY_MS = 5_000
