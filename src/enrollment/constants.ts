// Enrollment limits, in one place. Seconds unless named otherwise.

/** An enrollment must be completed within this time from its start. */
export const ENROLLMENT_TTL = 15 * 60

/** A phone code is 6 digits, valid 3 minutes, killed by the 5th wrong try. */
export const OTP_DIGITS = 6
export const OTP_TTL = 3 * 60
export const OTP_MAX_ATTEMPTS = 5
/** Minimum time between two codes for one enrollment. */
export const OTP_RESEND_INTERVAL = 60

/** Codes sent to one number, and from one client address, per hour. */
export const SMS_PER_NUMBER_PER_HOUR = 5
export const SMS_PER_IP_PER_HOUR = 20
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
