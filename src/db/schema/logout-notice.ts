import type { ColumnType, Generated } from 'kysely'

/** A back-channel logout owed to an institution, until it is delivered. */
export interface LogoutNoticeTable {
  id: Generated<string>
  client_id: string
  /** The account id oidc-provider turns into the institution's subject. */
  subscriber_id: string
  sid: string
  /** The certificate whose status change ended the login. */
  certificate_serial: string
  created_at: Date
  attempts: ColumnType<number, number | undefined, number>
  next_attempt_at: Date
}

export interface LogoutNoticeSchema {
  logout_notice: LogoutNoticeTable
}
