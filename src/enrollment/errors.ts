import { PostCertError } from '../errors/postcert-error.ts'

/**
 * An enrollment step that cannot go on. `code` names the message shown on the page
 * (views/locales: `enroll.error.<code>`), `params` fill it in.
 */
export class EnrollmentError extends PostCertError {
  readonly params: Record<string, string | number>
  readonly field: string | undefined

  constructor(status: number, code: string, description: string, options: { params?: Record<string, string | number>; field?: string } = {}) {
    super(status, code, description)
    this.params = options.params ?? {}
    this.field = options.field
  }
}

export const invalidField = (field: string, why: string) =>
  new EnrollmentError(400, 'invalid_field', `${field}: ${why}`, { field, params: { field } })
export const invalidPhone = () =>
  new EnrollmentError(400, 'invalid_phone', 'not a Korean mobile number', { field: 'phone' })
export const resendTooSoon = (seconds: number) =>
  new EnrollmentError(429, 'resend_too_soon', `a new code can be sent in ${seconds} s`, { params: { seconds } })
export const rateLimited = (seconds: number) =>
  new EnrollmentError(429, 'rate_limited', `too many attempts; try again in ${seconds} s`, { params: { minutes: Math.ceil(seconds / 60) } })
export const codeNotSent = () =>
  new EnrollmentError(400, 'code_not_sent', 'no code has been sent yet', { field: 'code' })
export const codeExpired = () =>
  new EnrollmentError(400, 'code_expired', 'the code has expired; ask for a new one', { field: 'code' })
export const codeWrong = (left: number) =>
  new EnrollmentError(400, 'code_wrong', `wrong code; ${left} tries left`, { field: 'code', params: { left } })
export const codeExhausted = () =>
  new EnrollmentError(400, 'code_exhausted', 'too many wrong codes; ask for a new one', { field: 'code' })
/**
 * One answer for every identity check that fails (no such document, details that do not match,
 * a phone in another name): telling them apart would let anyone probe a stranger's details.
 */
export const identityNotVerified = (left: number) =>
  new EnrollmentError(400, 'identity_not_verified', `the identity could not be verified with these details; ${left} tries left`, { params: { left } })
export function identityAttemptsExhausted(): EnrollmentError {
  const err = new EnrollmentError(400, 'identity_attempts_exhausted', 'the identity could not be verified; start again from the phone')
  err.link = { href: '/enroll/phone', key: 'error.continue_enrollment' }
  return err
}
export function stepNotAllowed(current: string): EnrollmentError {
  const err = new EnrollmentError(409, 'step_not_allowed', `this step is not available now; the enrollment is at step "${current}"`, { params: { current } })
  err.link = { href: '/enroll', key: 'error.continue_enrollment' }
  return err
}
export function enrollmentExpired(): EnrollmentError {
  const err = new EnrollmentError(400, 'enrollment_expired', 'the enrollment has expired or was not started in this browser; start again')
  err.link = { href: '/enroll', key: 'error.start_again' }
  return err
}
export const providerUnavailable = () =>
  new EnrollmentError(503, 'provider_unavailable', 'the verification service is not answering; try again in a moment')
