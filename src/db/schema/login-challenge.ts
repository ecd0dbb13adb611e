export interface LoginChallengeTable {
  hash: string
  interaction_uid: string
  expires_at: Date
}

export interface LoginChallengeSchema {
  login_challenge: LoginChallengeTable
}
