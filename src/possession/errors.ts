import { errorDomain } from '../errors/postcert-error.ts'
import type { VerdictReason } from '../ca/verdict.ts'

/**
 * A proof of possession refused (a login's or a signature's); the login and signing pages have a
 * message for each (views/locales `error.<code>`: interactions/ derives their lists from `codes`).
 */
export class PossessionError extends errorDomain({
  invalid_proof: 400,
  challenge_invalid: 400,
  too_many_attempts: 429,
  certificate_locked: 429,
  certificate_expired: 403,
  certificate_revoked: 403,
  certificate_suspended: 403,
  certificate_not_yet_valid: 403,
  certificate_unknown: 400,
  acr_not_met: 403,
}) {}

export const invalidProof = (why: string) => new PossessionError('invalid_proof', `the login proof is not valid: ${why}`)
export const challengeInvalid = () => new PossessionError('challenge_invalid', 'the login challenge is unknown, used or expired; try again')
export const tooManyFailedProofs = (minutes: number) => new PossessionError('too_many_attempts', `too many failed proofs from this address; try again in ${minutes} minutes`)
export const certificateLocked = (minutes: number) => new PossessionError('certificate_locked', `too many failed proofs for this certificate; try again in ${minutes} minutes`)

/** The verdict's refusal, as the page the subscriber should see. */
export function certificateRefused(reason: VerdictReason, message: string): PossessionError {
  switch (reason) {
    case 'expired': return new PossessionError('certificate_expired', message)
    case 'revoked': return new PossessionError('certificate_revoked', message)
    case 'suspended': return new PossessionError('certificate_suspended', message)
    case 'not_yet_valid': return new PossessionError('certificate_not_yet_valid', message)
    default: return new PossessionError('certificate_unknown', message)
  }
}

export const acrNotMet = () => new PossessionError('acr_not_met', 'this institution asks for a higher assurance level: log in with a passkey')
