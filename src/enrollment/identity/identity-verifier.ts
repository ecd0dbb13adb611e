import type { DocumentType } from '../../db/schema/subscriber.ts'

export interface IdentityDocument {
  type: DocumentType
  name: string
  /** YYYY-MM-DD */
  birthdate: string
  /** Letters and digits only, upper case. */
  number: string
  /** YYYY-MM-DD */
  issueDate: string
}

export interface VerifiedIdentity {
  /** Stable for the person whatever document they show: the input of the connecting identifier. */
  identityKey: string
  name: string
  birthdate: string
  /** Mobile numbers registered in the person's name (E.164). */
  phones: string[]
}

export type IdentityResult =
  | { verified: true; identity: VerifiedIdentity }
  | { verified: false; reason: 'not_found' | 'mismatch' }

/** Checks an identity document with its issuer. Throws IdentityProviderError when it cannot answer. */
export interface IdentityVerifier {
  readonly kind: 'sandbox' | 'http'
  verify(document: IdentityDocument): Promise<IdentityResult>
}

export class IdentityProviderError extends Error {
  override name = 'IdentityProviderError'
}
