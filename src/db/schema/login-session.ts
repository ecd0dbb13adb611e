import type { ColumnType } from 'kysely'

/** The certificate an oidc-provider session logged in with (see migrations/…login-session). */
export interface LoginSessionTable {
  session_uid: string
  /** The login's auth_time (seconds since the epoch), as in the ID token. */
  auth_time: ColumnType<string, number, number>
  certificate_serial: string
  expires_at: Date
  /** The institution the login proved possession for (null for logins before 2026-12-06). */
  client_id: ColumnType<string | null, string | null | undefined, string | null>
  /** When a status change of the certificate ended this login. */
  ended_at: ColumnType<Date | null, Date | null | undefined, Date | null>
}

export interface LoginSessionSchema {
  login_session: LoginSessionTable
}
