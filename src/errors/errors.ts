import { PostCertError } from './postcert-error.ts'

export { PostCertError, ServerError } from './postcert-error.ts'

export class InvalidRequestError extends PostCertError {
  constructor(description: string, options?: ErrorOptions) {
    super(400, 'invalid_request', description, options)
  }
}

export class NotFoundError extends PostCertError {
  constructor(description = 'no such resource', options?: ErrorOptions) {
    super(404, 'not_found', description, options)
  }
}

export class MethodNotAllowedError extends PostCertError {
  constructor(description = 'method not allowed', options?: ErrorOptions) {
    super(405, 'method_not_allowed', description, options)
  }
}

export class PayloadTooLargeError extends PostCertError {
  constructor(description = 'request body too large', options?: ErrorOptions) {
    super(413, 'invalid_request', description, options)
  }
}

/** A form post without the token of the page it came from: a cross-site request or a stale tab. */
export class InvalidCsrfTokenError extends PostCertError {
  constructor(description = 'the form is stale or was not sent by PostCert; reload the page', options?: ErrorOptions) {
    super(403, 'invalid_csrf_token', description, options)
  }
}

/** The interaction cookie is missing or the interaction expired. */
export class InteractionExpiredError extends PostCertError {
  constructor(description = 'this sign-in request has expired or is not valid; return to the service and start again', options?: ErrorOptions) {
    super(400, 'interaction_expired', description, options)
  }
}

export class ServiceUnavailableError extends PostCertError {
  constructor(description: string, options?: ErrorOptions) {
    super(503, 'temporarily_unavailable', description, options)
  }
}
