export interface ReceiptKeyTable {
  kid: string
  /** JSON text: the public JWK. */
  public_jwk: string
  first_used_at: Date
}

export interface ReceiptKeySchema {
  receipt_key: ReceiptKeyTable
}
