import { errorDomain } from '../errors/postcert-error.ts'

/** A signature refused, or the signature API's own refusals; the signing page has a message for the first two (`error.<code>`). */
export class SigningError extends errorDomain({
  invalid_signature: 400,
  wrong_certificate: 403,
  not_a_signing_request: { status: 400, code: 'invalid_request' },
  invalid_token: 401,
  rate_limited: 429,
}) {}

/** The refusals of a signature the signing page shows in its language (with the possession ones). */
export const SIGNATURE_REFUSALS = ['invalid_signature', 'wrong_certificate'] as const satisfies readonly (typeof SigningError.codes)[number][]

export const invalidSignature = (why: string) => new SigningError('invalid_signature', `the signature is not valid: ${why}`)
export const notTheSubscriber = () => new SigningError('wrong_certificate', 'this certificate belongs to someone else than the subscriber who logged in')
export const notASigningRequest = () => new SigningError('not_a_signing_request', 'this sign-in request does not ask for a signature')
export const invalidToken = (why: string) => new SigningError('invalid_token', why)
export const verifyRateLimited = (seconds: number) => new SigningError('rate_limited', `too many verifications from this address; try again in ${seconds} s`)
