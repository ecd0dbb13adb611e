/** An expiry reminder, claimed by one instance and marked once sent. */
export interface ExpiryReminderTable {
  certificate_serial: string
  /** 30, 7 or 1. */
  days_before: number
  claimed_at: Date
  sent_at: Date | null
}

export interface ExpiryReminderSchema {
  expiry_reminder: ExpiryReminderTable
}
