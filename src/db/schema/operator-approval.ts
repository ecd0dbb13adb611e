/** pending: waiting for a second operator; executing: approved, running; then executed (or failed part way), rejected or expired. */
export type ApprovalStatus = 'pending' | 'executing' | 'executed' | 'failed' | 'rejected'

/** An admin API operation under dual control (admin/approvals.ts). */
export interface OperatorApprovalTable {
  id: string
  /** The operation, e.g. revokeCertificates. */
  action: string
  /** JSON text: the operation's input, checked when it was asked for. */
  params: string
  status: ApprovalStatus
  /** The operator who asked (an actor id: client:<id>, cli). */
  requested_by: string
  requested_at: Date
  /** A pending request not approved by then can no longer be. */
  expires_at: Date
  /** The second operator, who approved or rejected. */
  decided_by: string | null
  decided_at: Date | null
  /** JSON text: what the operation did. */
  result: string | null
}

export interface OperatorApprovalSchema {
  operator_approval: OperatorApprovalTable
}
