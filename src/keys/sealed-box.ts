import { createCipheriv, createDecipheriv, createHash, createSecretKey, randomBytes, type KeyObject } from 'node:crypto'

const IV_BYTES = 12
const TAG_BYTES = 16

/**
 * What a table's owner re-sealed with the current master key, of how many sealed values, and how
 * many are still under another key when it had done (sealed meanwhile by an instance that still
 * seals with the old key: the rotation is not over).
 */
export interface RewrapCount {
  table: string
  rewrapped: number
  total: number
  remaining: number
}

/**
 * One table's rewrap, its owner supplying the reads and the write: each value not under the
 * current key is re-sealed and written back by `swap` only if the row still holds what was read
 * (a compare-and-swap: a value changed meanwhile is not overwritten); then the values are read
 * again and those still under another key counted.
 */
export async function rewrapTable<Row>(box: SealedBox, table: string, rows: () => Promise<Row[]>, sealed: (row: Row) => string, context: (row: Row) => string,
  swap: (row: Row, resealed: string) => Promise<bigint | number>): Promise<RewrapCount> {
  const before = await rows()
  let rewrapped = 0
  for (const row of before) {
    if (box.isCurrent(sealed(row))) continue
    rewrapped += Number(await swap(row, box.reseal(sealed(row), context(row))))
  }
  const remaining = (await rows()).filter((row) => !box.isCurrent(sealed(row))).length
  return { table, rewrapped, total: before.length, remaining }
}

export class UnsealError extends Error {
  override name = 'UnsealError'
}

/** A master key's id in sealed values: the first 8 characters of its SHA-256 (base64url). It reveals nothing of the key. */
export const masterKeyId = (key: Buffer) => createHash('sha256').update(key).digest('base64url').slice(0, 8)

/**
 * AES-256-GCM with the master key. Every value is bound to a context string (its table and
 * row) as additional data, so a sealed value copied into another row does not open there.
 * Format: `v2.<key id>.<base64url(iv | ciphertext | tag)>`, the key id naming the master key that
 * sealed it. Values sealed before key ids (`v1.<…>`) still open, with whichever key does.
 *
 * The box holds the current master key, which seals, and previous ones, which only open: after a
 * rotation each table's owner re-seals its values (`rewrap`, `postcert secrets rewrap`), then the
 * previous key can be dropped.
 *
 * The keys are imported once as KeyObjects: given as bytes, every cipher would import the key
 * again (in Node 24 that costs several times the encryption of a short value).
 */
export class SealedBox {
  readonly #current: { id: string; key: KeyObject }
  readonly #keys = new Map<string, KeyObject>()

  constructor(masterKey: Buffer, previousKeys: Buffer[] = []) {
    for (const key of [masterKey, ...previousKeys]) {
      if (key.length !== 32) throw new TypeError('a master key must be 32 bytes')
      if (!this.#keys.has(masterKeyId(key))) this.#keys.set(masterKeyId(key), createSecretKey(key))
    }
    this.#current = { id: masterKeyId(masterKey), key: this.#keys.get(masterKeyId(masterKey))! }
  }

  /** The id of the key that seals. */
  get keyId(): string {
    return this.#current.id
  }

  seal(plaintext: string | Uint8Array, context: string): string {
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.#current.key, iv)
    cipher.setAAD(Buffer.from(context, 'utf8'))
    const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()])
    return `v2.${this.#current.id}.${Buffer.concat([iv, body]).toString('base64url')}`
  }

  open(sealed: string, context: string): Buffer {
    const parts = sealed.split('.')
    if (parts[0] === 'v2' && parts.length === 3) {
      const key = this.#keys.get(parts[1]!)
      if (!key) throw new UnsealError(`sealed with master key ${parts[1]}, which is neither POSTCERT_MASTER_KEY nor one of POSTCERT_PREVIOUS_MASTER_KEYS`)
      return decrypt(key, parts[2]!, context)
    }
    if (parts[0] === 'v1' && parts.length === 2) {
      for (const key of this.#keys.values()) {
        try {
          return decrypt(key, parts[1]!, context)
        } catch (err) {
          if (!(err instanceof UnsealError)) throw err
        }
      }
      throw new UnsealError('sealed value does not open with this master key')
    }
    throw new UnsealError('unknown sealed value format')
  }

  openText(sealed: string, context: string): string {
    return this.open(sealed, context).toString('utf8')
  }

  /** Whether the value is sealed with the current key (nothing to re-seal). */
  isCurrent(sealed: string): boolean {
    return sealed.startsWith(`v2.${this.#current.id}.`)
  }

  /** The value sealed again with the current key (opened with whichever key sealed it). */
  reseal(sealed: string, context: string): string {
    return this.isCurrent(sealed) ? sealed : this.seal(this.open(sealed, context), context)
  }
}

function decrypt(key: KeyObject, data: string, context: string): Buffer {
  const raw = Buffer.from(data, 'base64url')
  if (raw.length < IV_BYTES + TAG_BYTES) throw new UnsealError('sealed value too short')
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES))
  decipher.setAAD(Buffer.from(context, 'utf8'))
  decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES))
  try {
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()])
  } catch {
    throw new UnsealError('sealed value does not open with this master key')
  }
}
