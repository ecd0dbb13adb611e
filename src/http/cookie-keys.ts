import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto'

/**
 * Signs and checks cookie signatures exactly as Keygrip does (HMAC-SHA1, base64url, the first key
 * signs, any key verifies), which is what koa's `cookies` asks of `keys`. Keygrip re-imports its
 * key for every HMAC and compares through two more HMACs under a fresh random key; here the keys
 * are imported once and compared with timingSafeEqual. A login reads a few signed cookies on each
 * of its requests, so this shows in the profile.
 */
export class CookieKeys {
  readonly #keys: KeyObject[]

  constructor(secrets: string[]) {
    if (secrets.length === 0) throw new Error('at least one cookie key is needed')
    this.#keys = secrets.map((s) => createSecretKey(Buffer.from(s, 'utf8')))
  }

  sign(data: string): string {
    return mac(this.#keys[0]!, data)
  }

  verify(data: string, digest: string): boolean {
    return this.index(data, digest) > -1
  }

  /** The index of the key that made `digest`, or -1. */
  index(data: string, digest: string): number {
    const given = Buffer.from(String(digest))
    for (let i = 0; i < this.#keys.length; i++) {
      const expected = Buffer.from(mac(this.#keys[i]!, data))
      if (given.length === expected.length && timingSafeEqual(given, expected)) return i
    }
    return -1
  }
}

const mac = (key: KeyObject, data: string) => createHmac('sha1', key).update(data).digest('base64url')
