/** The dashboard's counts per day (ops/daily-tally.ts): added to by every instance, never exact to the second. */
export interface DailyTallyTable {
  /** The day in Korea (Asia/Seoul), YYYY-MM-DD. */
  day: string
  /** What is counted: issued, login, signature, status, login_failure. */
  metric: string
  /** Its breakdown: a holder, a kind, a reason. */
  label: string
  count: number
}

export interface DailyTallySchema {
  daily_tally: DailyTallyTable
}
