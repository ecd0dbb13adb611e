import { errorDomain } from '../errors/postcert-error.ts'

/** What the phone step answers (enrollment, the portal's step-up); messages: views/locales `enroll.error.<code>`. */
export class PhoneError extends errorDomain({
  invalid_phone: 400, resend_too_soon: 429, code_not_sent: 400, code_expired: 400, code_wrong: 400, code_exhausted: 400,
  /** Not six digits: a typo, not a guess (no try is taken). */
  code_format: 400,
  /** A step that needs a verified phone first (the portal's new key), or again. */
  phone_not_verified: 403,
}) {}

export const invalidPhone = () => new PhoneError('invalid_phone', 'not a Korean mobile number', { field: 'phone' })
export const resendTooSoon = (seconds: number) => new PhoneError('resend_too_soon', `a new code can be sent in ${seconds} s`, { params: { seconds } })
export const codeNotSent = () => new PhoneError('code_not_sent', 'no code has been sent yet', { field: 'code' })
export const codeFormat = () => new PhoneError('code_format', 'the code is six digits', { field: 'code' })
export const codeExpired = () => new PhoneError('code_expired', 'the code has expired; ask for a new one', { field: 'code' })
export const codeWrong = (left: number) => new PhoneError('code_wrong', `wrong code; ${left} tries left`, { field: 'code', params: { left } })
/** A new key needs the phone code first (or again, after one issuance or when it is too old). */
export const phoneNotVerified = () => new PhoneError('phone_not_verified', 'confirm the code sent to your phone first')
export const codeExhausted = () => new PhoneError('code_exhausted', 'too many wrong codes; ask for a new one', { field: 'code' })
