import type { CertificateAuthority, CertificateRecord } from './authority.ts'
import type { RevocationReason } from './constants.ts'
import { invalidRequest, notFound } from '../errors/errors.ts'

/** What a subscriber may do to a certificate of theirs (the portal, or after identity proofing again). */
export const CERTIFICATE_ACTIONS = ['revoke', 'suspend', 'resume'] as const
export type CertificateAction = (typeof CERTIFICATE_ACTIONS)[number]

/**
 * The reasons a subscriber gives for revoking: lost, stolen or exposed (the key may be in
 * someone else's hands), or no longer used. Renewal and reissue revoke as superseded themselves.
 */
export const SUBSCRIBER_REVOCATION_REASONS = ['keyCompromise', 'cessationOfOperation'] as const satisfies readonly RevocationReason[]

/**
 * Revokes (분실/폐기), suspends (효력정지) or resumes a certificate for the subscriber who owns it.
 * The CA changes the status and writes the audit event in one transaction; CRL and OCSP answer
 * from that status at once.
 *
 * Throws: NotFoundError for a certificate that is not the subscriber's (as for one that does not
 * exist), InvalidRequestError for a revocation without its confirmation or reason or a suspension without its confirmation, CertificateStateError (409) for an action
 * the certificate's state does not allow (resuming a valid one, anything on a revoked one).
 */
export async function changeCertificateStatus(authority: CertificateAuthority, subscriberId: string, serial: string, action: CertificateAction, form: URLSearchParams): Promise<CertificateRecord> {
  // A revocation cannot be undone, a suspension ends the logins made with it: the form says so
  // (and how to resume), and the subscriber ticked that they read it.
  if (action === 'revoke' && form.get('confirm') !== 'yes') throw invalidRequest('tick the box to confirm: a revoked certificate cannot be used again')
  if (action === 'suspend' && form.get('confirm') !== 'yes') throw invalidRequest('tick the box to confirm: a suspended certificate cannot log in or sign until it is resumed')
  const reason = form.get('reason') ?? undefined
  const certificate = await authority.find(serial)
  if (!certificate || certificate.subscriberId !== subscriberId) throw notFound('no such certificate among yours')
  if (action === 'suspend') return await authority.suspend(certificate.serial)
  if (action === 'resume') return await authority.resume(certificate.serial)
  if (!(SUBSCRIBER_REVOCATION_REASONS as readonly string[]).includes(reason ?? '')) {
    throw invalidRequest('choose why the certificate is revoked: lost or exposed (keyCompromise), or no longer used (cessationOfOperation)')
  }
  return await authority.revoke(certificate.serial, reason as RevocationReason)
}
