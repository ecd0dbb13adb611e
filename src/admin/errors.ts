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

/** What the operator console answers about operators, their invitations and their passkeys. */
export class OperatorError extends errorDomain({
  /** An operator of this name has a passkey already (or is disabled): disable, then invite another name. */
  operator_exists: 409,
  operator_not_found: 404,
  /** The invitation link is unknown, used or expired. */
  invitation_invalid: 400,
  /** The passkey's answer did not verify, or answered no live challenge. */
  passkey_refused: 401,
  /** No live console session (or it expired): sign in with the passkey. */
  console_login_required: 401,
  /** The management listener is off (ADMIN_PORT=off): there is no console to invite anyone to. */
  console_off: 409,
  /** Too many passkey challenges asked for from one address. */
  too_many_attempts: 429,
}) {}

export const operatorExists = (name: string) => new OperatorError('operator_exists', `operator ${name} has registered a passkey (or is disabled): disable them and invite a new name`)
export const operatorNotFound = (name: string) => new OperatorError('operator_not_found', `no operator ${name}`)
export const invitationInvalid = () => new OperatorError('invitation_invalid', 'this invitation link is unknown, already used or expired: ask for a new one (postcert operators invite)')
export const passkeyRefused = (why: string) => new OperatorError('passkey_refused', why)
export const consoleLoginRequired = () => new OperatorError('console_login_required', 'sign in to the operator console with your passkey')
export const consoleTooManyAttempts = (seconds: number) => new OperatorError('too_many_attempts', `too many sign-in attempts from this address: try again in ${seconds} s`)
export const consoleOff = () => new OperatorError('console_off', 'the operator console is off (ADMIN_PORT=off): set ADMIN_PORT (and ADMIN_URL where operators open it) on the server and here')
