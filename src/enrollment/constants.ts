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
/** Enrollments started from one client address per hour. */
export const ENROLLMENTS_PER_IP_PER_HOUR = 30
