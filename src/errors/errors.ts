import { errorDomain } from './postcert-error.ts'

export { PostCertError, ServerError } from './postcert-error.ts'

/** What any request can get wrong, whatever it asks for. */
export class RequestError extends errorDomain({
  invalid_request: 400,
  not_found: 404,
  method_not_allowed: 405,
  payload_too_large: { status: 413, code: 'invalid_request' },
  /** A form post without the token of the page it came from: a cross-site request or a stale tab. */
  invalid_csrf_token: 403,
  /** The interaction cookie is missing or the interaction expired. */
  interaction_expired: 400,
  /** With an https issuer, a request that did not come through the TLS proxy. */
  https_required: 400,
  /** A DPoP proof (RFC 9449) that does not hold for the request and its access token. */
  invalid_dpop_proof: 401,
}) {}

/** What a page of an interaction (login, consent, signing) may answer besides its own refusals: the page is stale or the interaction gone. */
export const INTERACTION_REFUSALS = ['invalid_csrf_token', 'interaction_expired'] as const satisfies readonly (typeof RequestError.codes)[number][]

export const invalidRequest = (description: string, options?: ErrorOptions) => new RequestError('invalid_request', description, options)
export const notFound = (description = 'no such resource') => new RequestError('not_found', description)
export const methodNotAllowed = () => new RequestError('method_not_allowed', 'method not allowed')
export const payloadTooLarge = (description = 'request body too large') => new RequestError('payload_too_large', description)
export const invalidCsrfToken = () => new RequestError('invalid_csrf_token', 'the form is stale or was not sent by PostCert; reload the page')
export const interactionExpired = (description = 'this sign-in request has expired or is not valid; return to the service and start again', options?: ErrorOptions) =>
  new RequestError('interaction_expired', description, options)
export const httpsRequired = () => new RequestError('https_required', 'PostCert must be reached over https, through its TLS proxy')
export const invalidDpopProof = (description: string) => new RequestError('invalid_dpop_proof', description)
