/** A person who runs PostCert (운영자), invited from the server's CLI (admin/operators.ts). */
export interface OperatorTable {
  id: string
  /** How the audit log names them: operator:<name>. */
  name: string
  /** The actor who invited them (cli). */
  invited_by: string
  created_at: Date
  /** SHA-256 (base64url) of the invitation's token, until a passkey is registered with it. */
  invitation_hash: string | null
  invitation_expires_at: Date | null
  /** A disabled operator cannot sign in; their sessions ended when they were disabled. */
  disabled_at: Date | null
}

/** An operator's passkey: the console's only way in. */
export interface OperatorPasskeyTable {
  /** base64url credential id */
  credential_id: string
  operator_id: string
  /** COSE public key */
  public_key: Uint8Array
  counter: number
  /** JSON array of transports */
  transports: string
  created_at: Date
  last_used_at: Date | null
}

/** A signed-in console session; the cookie holds the token, the row its SHA-256. */
export interface OperatorSessionTable {
  id: string
  operator_id: string
  created_at: Date
  last_seen_at: Date
  expires_at: Date
}

/** A WebAuthn challenge handed out by the console, spent by the answer to it. */
export interface OperatorChallengeTable {
  id: string
  challenge: string
  /** The operator registering a passkey with an invitation; null for a sign-in. */
  operator_id: string | null
  expires_at: Date
}

export interface OperatorSchema {
  operator: OperatorTable
  operator_passkey: OperatorPasskeyTable
  operator_session: OperatorSessionTable
  operator_challenge: OperatorChallengeTable
}
