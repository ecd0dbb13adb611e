export interface CaChallengeTable {
  hash: string
  expires_at: Date
}

export interface CaChallengeSchema {
  ca_challenge: CaChallengeTable
}
