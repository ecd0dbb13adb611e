import { errorDomain } from './postcert-error.ts'

/**
 * What any form step may answer (enrollment, the portal's phone step): too many attempts, a
 * provider that does not answer. `code` names the message shown on
 * the page (views/locales: `enroll.error.<code>`); phone/errors.ts and enrollment/errors.ts
 * declare their own.
 */
export class FormError extends errorDomain({ rate_limited: 429, provider_unavailable: 503 }) {}

export const rateLimited = (seconds: number) =>
  new FormError('rate_limited', `too many attempts; try again in ${seconds} s`, { params: { minutes: Math.ceil(seconds / 60) } })
export const providerUnavailable = () =>
  new FormError('provider_unavailable', 'the verification service is not answering; try again in a moment')
