export interface RateLimitTable {
  key: string
  window_start: Date
  count: number
}

export interface RateLimitSchema {
  rate_limit: RateLimitTable
}
