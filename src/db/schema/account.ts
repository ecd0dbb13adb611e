/** A signed-in session of the subscriber portal (/account). */
export interface AccountSessionTable {
  /** SHA-256 (base64url) of the cookie's token. */
  id: string
  subscriber_id: string
  certificate_serial: string
  created_at: Date
  expires_at: Date
}

/** An expiry reminder, claimed by one instance and marked once sent. */
export interface ExpiryReminderTable {
  certificate_serial: string
  /** 30, 7 or 1. */
  days_before: number
  claimed_at: Date
  sent_at: Date | null
}

export interface AccountSchema {
  account_session: AccountSessionTable
  expiry_reminder: ExpiryReminderTable
}
