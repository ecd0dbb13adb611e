import { PostCertError } from '../errors/postcert-error.ts'

export class CertificateNotFoundError extends PostCertError {
  constructor(serial: string) {
    super(404, 'certificate_not_found', `no certificate with serial ${serial}`)
  }
}

export class UnsupportedKeyError extends PostCertError {
  constructor(description: string) {
    super(400, 'unsupported_key', description)
  }
}

export class InvalidPossessionProofError extends PostCertError {
  constructor(description: string) {
    super(400, 'invalid_possession_proof', description)
  }
}

/** Renewal asked for outside its window; `opensAt` says when it opens, if it will. */
export class RenewalNotAllowedError extends PostCertError {
  readonly opensAt: Date | undefined

  constructor(description: string, opensAt?: Date) {
    super(409, 'renewal_not_allowed', description)
    this.opensAt = opensAt
  }
}

/** A lifecycle action that does not apply to the certificate in its current state. */
export class CertificateStateError extends PostCertError {
  constructor(description: string) {
    super(409, 'invalid_certificate_state', description)
  }
}

/** Another certificate asked for while the subscriber already holds as many as allowed. */
export class CertificateLimitError extends PostCertError {
  constructor(limit: number) {
    super(409, 'certificate_limit', `you already hold ${limit} certificates in use, the most one person may hold: revoke one first`)
  }
}
