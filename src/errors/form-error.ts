import { PostCertError } from './postcert-error.ts'

/**
 * A step of a form the subscriber can fix or must wait for (enrollment, phone codes). `code`
 * names the message shown on the page (views/locales: `enroll.error.<code>`), `params` fill it
 * in, `field` is the input it is shown beside.
 */
export class FormError extends PostCertError {
  readonly params: Record<string, string | number>
  readonly field: string | undefined

  constructor(status: number, code: string, description: string, options: { params?: Record<string, string | number>; field?: string } = {}) {
    super(status, code, description)
    this.params = options.params ?? {}
    this.field = options.field
  }
}

export const rateLimited = (seconds: number) =>
  new FormError(429, 'rate_limited', `too many attempts; try again in ${seconds} s`, { params: { minutes: Math.ceil(seconds / 60) } })
export const providerUnavailable = () =>
  new FormError(503, 'provider_unavailable', 'the verification service is not answering; try again in a moment')
