import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto'
import { invalidCsrfToken } from '../errors/errors.ts'

/**
 * CSRF tokens bound to what the form acts on (e.g. an interaction uid), keyed by a server secret.
 * A page from another site cannot know the token; one form's token does not work on another.
 * The key is imported once (sealed-box.ts says why).
 */
export class Csrf {
  readonly #key: KeyObject

  constructor(key: string) {
    this.#key = createSecretKey(Buffer.from(key, 'base64url'))
  }

  token(scope: string): string {
    return createHmac('sha256', this.#key).update(scope).digest('base64url')
  }

  verify(scope: string, presented: string | null): void {
    const expected = Buffer.from(this.token(scope))
    const actual = Buffer.from(presented ?? '')
    if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) throw invalidCsrfToken()
  }
}
