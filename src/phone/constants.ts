// Phone code limits, in one place. Seconds unless named otherwise.

/** A phone code is 6 digits, valid 3 minutes, killed by the 5th wrong try. */
export const OTP_DIGITS = 6
export const OTP_TTL = 3 * 60
export const OTP_MAX_ATTEMPTS = 5
/** Minimum time between two codes for one owner and purpose. */
export const OTP_RESEND_INTERVAL = 60

/** Codes sent to one number (per purpose), and from one client address, per hour. */
export const SMS_PER_NUMBER_PER_HOUR = 5
export const SMS_PER_IP_PER_HOUR = 20
