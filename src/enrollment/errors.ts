import { errorDomain } from '../errors/postcert-error.ts'

/**
 * An enrollment step that cannot go on. `code` names the message shown on the page
 * (views/locales: `enroll.error.<code>`), `params` fill it in. The phone step's own errors are
 * phone/errors.ts, the ones any form step may answer errors/form-error.ts.
 */
export class EnrollmentError extends errorDomain({
  invalid_field: 400,
  identity_not_verified: 400,
  identity_attempts_exhausted: 400,
  step_not_allowed: 409,
  enrollment_expired: 400,
}) {}

/** One field's problem: `problem` names its message (views/locales `enroll.problem.<problem>`), `why` is for the description. */
export interface FieldProblem {
  field: string
  problem: string
  why: string
}

/**
 * A form with fields to fix, every one of them (`problems`, in the form's order): the page shows
 * each beside its field. `field` is the first, where the focus goes.
 */
export class InvalidFieldsError extends EnrollmentError {
  readonly problems: readonly FieldProblem[]

  constructor(problems: readonly FieldProblem[]) {
    const first = problems[0]?.field ?? 'form'
    super('invalid_field', problems.map((p) => `${p.field}: ${p.why}`).join('; ') || 'the form is incomplete', { field: first, params: { field: first } })
    this.problems = problems
  }
}

export const invalidFields = (problems: readonly FieldProblem[]) => new InvalidFieldsError(problems)
/**
 * One answer for every identity check that fails (no such document, details that do not match,
 * a phone in another name): telling them apart would let anyone probe a stranger's details.
 */
export const identityNotVerified = (left: number) =>
  new EnrollmentError('identity_not_verified', `the identity could not be verified with these details; ${left} tries left`, { params: { left } })
export function identityAttemptsExhausted(): EnrollmentError {
  const err = new EnrollmentError('identity_attempts_exhausted', 'the identity could not be verified; start again from the phone')
  err.link = { href: '/enroll/phone', key: 'error.continue_enrollment' }
  return err
}
export function stepNotAllowed(current: string): EnrollmentError {
  const err = new EnrollmentError('step_not_allowed', `this step is not available now; the enrollment is at step "${current}"`, { params: { current } })
  err.link = { href: '/enroll', key: 'error.continue_enrollment' }
  return err
}
export function enrollmentExpired(): EnrollmentError {
  const err = new EnrollmentError('enrollment_expired', 'the enrollment has expired or was not started in this browser; start again')
  err.link = { href: '/enroll', key: 'error.start_again' }
  return err
}
