import { PostCertError } from '../errors/postcert-error.ts'
import type { VerdictReason } from '../ca/verdict.ts'

/** A login proof refused; `code` names the message on the login page (`login.error.<code>`). */
export class LoginError extends PostCertError {}

export const invalidProof = (why: string) => new LoginError(400, 'invalid_proof', `the login proof is not valid: ${why}`)
export const challengeInvalid = () => new LoginError(400, 'challenge_invalid', 'the login challenge is unknown, used or expired; try again')
export const tooManyChallenges = () => new LoginError(429, 'too_many_attempts', 'too many unused challenges in this login: start it again from the institution')
export const tooManyFailedProofs = (minutes: number) => new LoginError(429, 'too_many_attempts', `too many failed proofs from this address; try again in ${minutes} minutes`)
export const certificateLocked = (minutes: number) => new LoginError(429, 'certificate_locked', `too many failed proofs for this certificate; try again in ${minutes} minutes`)

/** The verdict's refusal, as the page the subscriber should see. */
export function certificateRefused(reason: VerdictReason, message: string): LoginError {
  switch (reason) {
    case 'expired': return new LoginError(403, 'certificate_expired', message)
    case 'revoked': return new LoginError(403, 'certificate_revoked', message)
    case 'suspended': return new LoginError(403, 'certificate_suspended', message)
    case 'not_yet_valid': return new LoginError(403, 'certificate_not_yet_valid', message)
    default: return new LoginError(400, 'certificate_unknown', message)
  }
}

export const acrNotMet = () => new LoginError(403, 'acr_not_met', 'this institution asks for a higher assurance level: log in with a passkey')
