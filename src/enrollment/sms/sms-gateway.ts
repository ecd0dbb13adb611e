/** Sends text messages to phones. Implementations throw SmsDeliveryError when they cannot. */
export interface SmsGateway {
  readonly kind: 'sandbox' | 'http'
  send(toE164: string, body: string): Promise<void>
}

export class SmsDeliveryError extends Error {
  override name = 'SmsDeliveryError'
}
