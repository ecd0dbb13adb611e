import { BoundedMap } from './bounded-map.ts'

/**
 * A small in-process cache for rows read on almost every request and changed rarely (clients,
 * subscribers' claims): each entry is used for `ttlSeconds`, then read again, so a change made by
 * another process is seen within that time. A value is copied once when stored and frozen, deeply:
 * every reader gets that same copy, and no reader can change it (strict-mode code throws).
 */
export class TtlCache<T> {
  readonly #entries: BoundedMap<string, { value: T; until: number }>
  readonly #ttlMs: number

  constructor(ttlSeconds: number, max = 10_000) {
    this.#ttlMs = ttlSeconds * 1000
    this.#entries = new BoundedMap(max)
  }

  get(key: string): T | undefined {
    const entry = this.#entries.get(key)
    if (!entry) return undefined
    if (entry.until > Date.now()) return entry.value
    this.#entries.delete(key)
    return undefined
  }

  set(key: string, value: T): void {
    this.#entries.set(key, { value: deepFreeze(structuredClone(value)), until: Date.now() + this.#ttlMs })
  }

  delete(key: string): void {
    this.#entries.delete(key)
  }

  clear(): void {
    this.#entries.clear()
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const inner of Object.values(value)) deepFreeze(inner)
  }
  return value
}
