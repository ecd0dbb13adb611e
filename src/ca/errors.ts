import { errorDomain } from '../errors/postcert-error.ts'

/** What the certificate authority refuses. */
export class CaError extends errorDomain({
  certificate_not_found: 404,
  unsupported_key: 400,
  invalid_possession_proof: 400,
  /** Renewal asked for outside its window. */
  renewal_not_allowed: 409,
  /** A lifecycle action that does not apply to the certificate in its current state. */
  invalid_certificate_state: 409,
  /** Another certificate asked for while the subscriber already holds as many as allowed. */
  certificate_limit: 409,
}) {}

export const certificateNotFound = (serial: string) => new CaError('certificate_not_found', `no certificate with serial ${serial}`)
export const unsupportedKey = (description: string) => new CaError('unsupported_key', description)
export const invalidPossessionProof = (description: string) => new CaError('invalid_possession_proof', description)
/** `opensAt` says when the window opens, if it will. */
export const renewalNotAllowed = (description: string, opensAt?: Date): CaError & { opensAt?: Date } =>
  Object.assign(new CaError('renewal_not_allowed', description), { opensAt })
export const certificateState = (description: string) => new CaError('invalid_certificate_state', description)
export const certificateLimit = (limit: number) =>
  new CaError('certificate_limit', `you already hold ${limit} certificates in use, the most one person may hold: revoke one first`)
