/**
 * Login and signature challenges used (possession/proofs.ts), by the SHA-256 of the challenge:
 * a challenge is recorded as it is used, which makes it single-use, and swept once it has expired.
 * (Until 2026-12-07 challenges were stored as they were made, and deleted as they were used.)
 */
export interface LoginChallengeTable {
  hash: string
  interaction_uid: string
  expires_at: Date
}

export interface LoginChallengeSchema {
  login_challenge: LoginChallengeTable
}
