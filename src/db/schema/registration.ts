export interface RegistrationTable {
  subscriber_id: string
  client_id: string
  grant_id: string
  created_at: Date
  updated_at: Date
}

export interface RegistrationSchema {
  registration: RegistrationTable
}
