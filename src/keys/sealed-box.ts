import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

const VERSION = 'v1'
const IV_BYTES = 12
const TAG_BYTES = 16

export class UnsealError extends Error {
  override name = 'UnsealError'
}

/**
 * AES-256-GCM with the master key. Every value is bound to a context string (its table and
 * row) as additional data, so a sealed value copied into another row does not open there.
 * Format: `v1.<base64url(iv | ciphertext | tag)>`.
 */
export class SealedBox {
  readonly #key: Buffer

  constructor(masterKey: Buffer) {
    if (masterKey.length !== 32) throw new TypeError('the master key must be 32 bytes')
    this.#key = masterKey
  }

  seal(plaintext: string | Uint8Array, context: string): string {
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv)
    cipher.setAAD(Buffer.from(context, 'utf8'))
    const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
    return `${VERSION}.${Buffer.concat([iv, body]).toString('base64url')}`
  }

  open(sealed: string, context: string): Buffer {
    const [version, data] = sealed.split('.')
    if (version !== VERSION || !data) throw new UnsealError('unknown sealed value format')
    const raw = Buffer.from(data, 'base64url')
    if (raw.length < IV_BYTES + TAG_BYTES) throw new UnsealError('sealed value too short')
    const decipher = createDecipheriv('aes-256-gcm', this.#key, raw.subarray(0, IV_BYTES))
    decipher.setAAD(Buffer.from(context, 'utf8'))
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES))
    try {
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()])
    } catch {
      throw new UnsealError('sealed value does not open with this master key')
    }
  }

  openText(sealed: string, context: string): string {
    return this.open(sealed, context).toString('utf8')
  }
}
