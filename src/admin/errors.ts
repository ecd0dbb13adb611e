import { errorDomain } from '../errors/postcert-error.ts'

/** What the admin API answers a caller it cannot let in (RFC 6750 section 3.1 codes). */
export class AdminAuthError extends errorDomain({
  invalid_token: 401,
  insufficient_scope: 403,
}) {}

export const invalidToken = (description: string) => new AdminAuthError('invalid_token', description)
export const insufficientScope = (description: string) => new AdminAuthError('insufficient_scope', description)

/** What a dual-control request answers when it cannot go on. */
export class ApprovalError extends errorDomain({
  /** The operator who asked cannot also approve. */
  second_operator_required: 403,
  /** Not pending any more: approved, rejected or expired. */
  approval_closed: 409,
  /** One operator changing many certificates one by one: that takes a second operator. */
  dual_control_required: 429,
}) {}

export const secondOperatorRequired = () => new ApprovalError('second_operator_required', 'another operator must approve what you asked for (dual control)')
export const dualControlRequired = (limit: number, seconds: number) =>
  new ApprovalError('dual_control_required', `more than ${limit} certificate status changes in an hour by one operator: ask for the rest as a bulk revocation (POST /approvals), which another operator approves; or wait ${seconds} s`)
export const approvalClosed = (status: string) => new ApprovalError('approval_closed', `this request is ${status}; ask again if it is still needed`)

/** What only the operator at the server's console (the CLI, actor cli) may do. */
export class ConsoleOnlyError extends errorDomain({ console_only: 403 }) {}

export const consoleOnly = (what: string) => new ConsoleOnlyError('console_only', `${what} only at the server's console (postcert, on the server's machine)`)
