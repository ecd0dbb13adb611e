import { FormError } from '../errors/form-error.ts'

export const invalidPhone = () =>
  new FormError(400, 'invalid_phone', 'not a Korean mobile number', { field: 'phone' })
export const resendTooSoon = (seconds: number) =>
  new FormError(429, 'resend_too_soon', `a new code can be sent in ${seconds} s`, { params: { seconds } })
export const codeNotSent = () =>
  new FormError(400, 'code_not_sent', 'no code has been sent yet', { field: 'code' })
export const codeExpired = () =>
  new FormError(400, 'code_expired', 'the code has expired; ask for a new one', { field: 'code' })
export const codeWrong = (left: number) =>
  new FormError(400, 'code_wrong', `wrong code; ${left} tries left`, { field: 'code', params: { left } })
export const codeExhausted = () =>
  new FormError(400, 'code_exhausted', 'too many wrong codes; ask for a new one', { field: 'code' })
