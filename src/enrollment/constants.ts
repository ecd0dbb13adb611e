// Enrollment limits, in one place. Seconds unless named otherwise.

/** An enrollment must be completed within this time from its start. */
export const ENROLLMENT_TTL = 15 * 60

/** Identity document checks from one client address per hour. */
export const IDENTITY_CHECKS_PER_IP_PER_HOUR = 30
/**
 * Identity checks after one phone verification: then the enrollment starts again from the phone
 * (a new code). With the per-number and per-document limits below, guessing someone else's
 * document details (an issue date, a name) one answer at a time takes years, not minutes.
 */
export const IDENTITY_ATTEMPTS_PER_PHONE_VERIFICATION = 3
/** Identity checks naming one document number, and made with one verified phone, per day. */
export const IDENTITY_CHECKS_PER_DOCUMENT_PER_DAY = 5
export const IDENTITY_CHECKS_PER_PHONE_PER_DAY = 10
/** Enrollments started from one client address per hour. */
export const ENROLLMENTS_PER_IP_PER_HOUR = 30
