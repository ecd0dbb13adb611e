import { SmsDeliveryError, type SendOptions, type SmsGateway } from './sms-gateway.ts'

const TIMEOUT_MS = 5_000
const ATTEMPTS = 3

/**
 * A real SMS provider over HTTP: POST {"to": "+8210…", "text": "…"} as JSON with a bearer token.
 * Retries network errors, timeouts and 5xx twice with a short backoff; a 4xx is final. An
 * idempotency key goes in an Idempotency-Key header, the same on every try: a provider that
 * honours it delivers a message once even when an answer was lost and the message sent again.
 */
export class HttpSmsGateway implements SmsGateway {
  readonly kind = 'http' as const
  readonly #url: string
  readonly #token: string

  constructor(url: string, token: string) {
    this.#url = url
    this.#token = token
  }

  async send(toE164: string, body: string, options: SendOptions = {}): Promise<void> {
    const headers: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${this.#token}` }
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey
    let last = ''
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        const res = await fetch(this.#url, {
          method: 'POST',
          headers,
          body: JSON.stringify({ to: toE164, text: body }),
          signal: AbortSignal.timeout(TIMEOUT_MS),
        })
        if (res.ok) return
        last = `HTTP ${res.status}`
        if (res.status < 500) break
      } catch (err) {
        last = (err as Error).name === 'TimeoutError' ? 'timeout' : (err as Error).message
      }
      if (attempt < ATTEMPTS) await new Promise((r) => setTimeout(r, 200 * attempt))
    }
    throw new SmsDeliveryError(`the SMS gateway did not accept the message (${last})`)
  }
}
