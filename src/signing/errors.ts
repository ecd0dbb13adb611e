import { PostCertError } from '../errors/postcert-error.ts'

/** A signature refused; `code` names the message on the signing page (`error.<code>`). */
export class SigningError extends PostCertError {}

export const invalidSignature = (why: string) => new SigningError(400, 'invalid_signature', `the signature is not valid: ${why}`)
export const notTheSubscriber = () => new SigningError(403, 'wrong_certificate', 'this certificate belongs to someone else than the subscriber who logged in')
export const notASigningRequest = () => new SigningError(400, 'invalid_request', 'this sign-in request does not ask for a signature')
export const invalidToken = (why: string) => new SigningError(401, 'invalid_token', why)
export const verifyRateLimited = (seconds: number) => new SigningError(429, 'rate_limited', `too many verifications from this address; try again in ${seconds} s`)
