export interface SendOptions {
  /**
   * Names the message, not the attempt: a gateway that already took a message with this key
   * drops the second one, so a sender that cannot tell whether it was sent may send it again.
   */
  idempotencyKey?: string
}

/** Sends text messages to phones. Implementations throw SmsDeliveryError when they cannot. */
export interface SmsGateway {
  readonly kind: 'sandbox' | 'http'
  send(toE164: string, body: string, options?: SendOptions): Promise<void>
}

export class SmsDeliveryError extends Error {
  override name = 'SmsDeliveryError'
}
