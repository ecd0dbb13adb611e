import { errorDomain } from '../errors/postcert-error.ts'

/** What the admin API answers a caller it cannot let in (RFC 6750 section 3.1 codes). */
export class AdminAuthError extends errorDomain({
  invalid_token: 401,
  insufficient_scope: 403,
}) {}

export const invalidToken = (description: string) => new AdminAuthError('invalid_token', description)
export const insufficientScope = (description: string) => new AdminAuthError('insufficient_scope', description)
