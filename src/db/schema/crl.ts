export interface CrlTable {
  issuer_id: string
  /** 'complete', or a partition's: 'p0', 'p1', ... */
  scope: string
  number: number
  der: Uint8Array
  this_update: Date
  next_update: Date
  status_version: string
}

export interface CrlSchema {
  crl: CrlTable
}
