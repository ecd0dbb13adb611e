import { PostCertError } from '../errors/postcert-error.ts'
import type { VerdictReason } from '../ca/verdict.ts'

/**
 * A proof of possession refused (a login's or a signature's); `code` names the message on the
 * login and signing pages (`login.error.<code>`).
 */
export class PossessionError extends PostCertError {}

export const invalidProof = (why: string) => new PossessionError(400, 'invalid_proof', `the login proof is not valid: ${why}`)
export const challengeInvalid = () => new PossessionError(400, 'challenge_invalid', 'the login challenge is unknown, used or expired; try again')
export const tooManyChallenges = () => new PossessionError(429, 'too_many_attempts', 'too many unused challenges in this login: start it again from the institution')
export const tooManyFailedProofs = (minutes: number) => new PossessionError(429, 'too_many_attempts', `too many failed proofs from this address; try again in ${minutes} minutes`)
export const certificateLocked = (minutes: number) => new PossessionError(429, 'certificate_locked', `too many failed proofs for this certificate; try again in ${minutes} minutes`)

/** The verdict's refusal, as the page the subscriber should see. */
export function certificateRefused(reason: VerdictReason, message: string): PossessionError {
  switch (reason) {
    case 'expired': return new PossessionError(403, 'certificate_expired', message)
    case 'revoked': return new PossessionError(403, 'certificate_revoked', message)
    case 'suspended': return new PossessionError(403, 'certificate_suspended', message)
    case 'not_yet_valid': return new PossessionError(403, 'certificate_not_yet_valid', message)
    default: return new PossessionError(400, 'certificate_unknown', message)
  }
}

export const acrNotMet = () => new PossessionError(403, 'acr_not_met', 'this institution asks for a higher assurance level: log in with a passkey')
