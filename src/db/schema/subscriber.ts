export type DocumentType = 'resident_card' | 'driver_licence' | 'passport'

export interface SubscriberTable {
  id: string
  /** Connecting identifier: HMAC of the verified identity under a server secret. */
  ci: string
  name: string
  /** YYYY-MM-DD */
  birthdate: string
  phone_e164: string
  document_type: DocumentType
  document_last_digits: string
  created_at: Date
  updated_at: Date
}

export interface SubscriberSchema {
  subscriber: SubscriberTable
}
