// Sending a request and checking the response.

import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { signCompactJws } from '../../src/holders/keyfile/compact-jws.ts'
import { utf8 } from './bodies.ts'
import { editBytes, editJson } from './edits.ts'
import { spentBy, type FixturePart, type Fixtures } from './fixtures.ts'
import type { Family, FuzzBody, FuzzRequest } from './fuzz-request.ts'
import { b64u } from './wire.ts'

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/** What a response body must never show: each a sign of an internal error or detail leaking out. */
const LEAKS: Array<[what: string, pattern: RegExp]> = [
  ['a stack frame', /\bat [^\n]*\.(ts|js):\d+/],
  ['node_modules', /node_modules/],
  ['a path on the server', new RegExp(['/work/', ROOT, path.join(os.tmpdir(), 'postcert')].map(escapeRegExp).join('|'))],
  ['an error message', /Error: /],
  ['SQL error text', /syntax error at or near|relation "|violates /],
  ['a connection error', /ECONNREFUSED|ECONNRESET|ETIMEDOUT/],
]

export class FuzzFailure extends Error {
  override name = 'FuzzFailure'
}

export interface Outcome {
  status: number
  ms: number
}

export interface FuzzerOptions {
  /** A request without an answer after this long is a hang (a failure). */
  timeoutMs?: number
  /** /healthz is asked after this many requests. */
  healthEvery?: number
  /** All fixtures are renewed after this many requests (those a request used up at once). */
  renewEvery?: number
}

/**
 * Sends generated requests and checks every answer: no 5xx, nothing internal in the body, an
 * answer at all (within the timeout); every `healthEvery` requests the server still answers
 * /healthz within a second. Counts what it sent and saw.
 */
export class Fuzzer {
  readonly fixtures: Fixtures
  readonly baseUrl: string
  readonly byFamily = new Map<Family, number>()
  /** Statuses seen, and 'none' for requests that got no HTTP answer. */
  readonly byStatus = new Map<number | 'none', number>()
  sent = 0
  readonly #options: Required<FuzzerOptions>

  constructor(baseUrl: string, fixtures: Fixtures, options: FuzzerOptions = {}) {
    this.baseUrl = baseUrl
    this.fixtures = fixtures
    this.#options = { timeoutMs: 10_000, healthEvery: 250, renewEvery: 500, ...options }
  }

  /** Sends the request and throws a FuzzFailure that says what was sent and what came back when a property fails. */
  async check(generated: FuzzRequest): Promise<Outcome> {
    const wire = await this.#materialize(generated)
    this.sent++
    this.byFamily.set(generated.family, (this.byFamily.get(generated.family) ?? 0) + 1)
    const started = performance.now()
    let response: Response
    let body: string
    try {
      response = await fetch(wire.url, {
        method: wire.method, headers: wire.headers, body: wire.body, redirect: 'manual', signal: AbortSignal.timeout(this.#options.timeoutMs),
      })
      body = Buffer.from(await response.arrayBuffer()).toString('utf8')
    } catch (err) {
      this.byStatus.set('none', (this.byStatus.get('none') ?? 0) + 1)
      const cause = err instanceof Error ? `${err.name}: ${err.message}${err.cause instanceof Error ? ` (${err.cause.name}: ${err.cause.message})` : ''}` : String(err)
      const hang = err instanceof Error && err.name === 'TimeoutError'
      // undici reads response headers up to 16 KiB, as Node's HTTP client and server do by default
      const overflow = cause.includes('HeadersOverflowError') ? ' — the response headers are larger than the 16 KiB Node\'s HTTP clients read' : ''
      throw new FuzzFailure(`${hang ? `no answer within ${this.#options.timeoutMs} ms` : 'no HTTP answer'}: ${cause}${overflow}\n${describe(wire)}`)
    }
    const ms = performance.now() - started
    this.byStatus.set(response.status, (this.byStatus.get(response.status) ?? 0) + 1)
    if (response.status >= 500) throw new FuzzFailure(`answered ${response.status}\n${describe(wire)}\n${excerpt(response, body)}`)
    for (const [what, pattern] of LEAKS) {
      const found = pattern.exec(body)
      if (found) throw new FuzzFailure(`the body shows ${what} (${JSON.stringify(found[0])})\n${describe(wire)}\n${excerpt(response, body, found.index)}`)
    }
    if (this.sent % this.#options.healthEvery === 0) await this.healthy()
    const spent = this.sent % this.#options.renewEvery === 0 ? undefined : spentBy(generated, response.status)
    if (!spent || spent.length) await this.renew(spent)
    return { status: response.status, ms }
  }

  /** The server still answers: /healthz with 200 within a second. */
  async healthy(): Promise<void> {
    try {
      const res = await fetch(`${this.baseUrl}/healthz`, { signal: AbortSignal.timeout(1_000) })
      if (res.status !== 200) throw new FuzzFailure(`/healthz answered ${res.status} after ${this.sent} requests: ${(await res.text()).slice(0, 300)}`)
    } catch (err) {
      if (err instanceof FuzzFailure) throw err
      throw new FuzzFailure(`/healthz did not answer within a second after ${this.sent} requests: ${String(err)}`)
    }
  }

  /** Renews the fixtures (the parts named, or all): a failure here means normal use no longer works. */
  async renew(parts?: FixturePart[]): Promise<void> {
    try {
      await this.fixtures.renew(parts)
    } catch (err) {
      throw new FuzzFailure(`after ${this.sent} requests a normal login, signature, portal sign-in or enrollment failed: ${err instanceof Error ? err.stack : String(err)}`)
    }
  }

  async #materialize(generated: FuzzRequest): Promise<WireRequest> {
    const values: Record<string, string> = { ...this.fixtures.values }
    for (const [name, jwt] of Object.entries(generated.jwts ?? {})) values[name] = String(await this.#jsonValue(jwt))
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(generated.headers)) headers[name] = fill(value, values)
    // what fetch refuses to send is a mistake of the generator, not a finding
    try {
      new Headers(headers)
    } catch (err) {
      throw new Error(`the generator made a header fetch cannot send: ${JSON.stringify(headers)}`, { cause: err })
    }
    const wire: WireRequest = { method: generated.method, url: this.baseUrl + fill(generated.target, values), headers }
    // fetch sends no body with GET or HEAD
    if (generated.body && wire.method !== 'GET' && wire.method !== 'HEAD') wire.body = await this.#bodyBytes(generated.body, values)
    return wire
  }

  async #bodyBytes(body: FuzzBody, values: Record<string, string>): Promise<Uint8Array> {
    const fx = this.fixtures
    if ('bytes' in body) return body.bytes
    if ('text' in body) return utf8(fill(body.text, values))
    if ('ocsp' in body) return editBytes(fx.ocspRequest, body.ocsp)
    if ('evidence' in body) return utf8(JSON.stringify(editJson(fx.evidence, body.evidence)))
    return utf8(JSON.stringify(await this.#jsonValue(body.json)))
  }

  /** Fills placeholders in strings and turns {$jws}, {$b64u}, {$now} and {$fixture} into what they stand for. */
  async #jsonValue(value: unknown): Promise<unknown> {
    if (typeof value === 'string') return fill(value, this.fixtures.values)
    if (Array.isArray(value)) return await Promise.all(value.map((v) => this.#jsonValue(v)))
    if (value === null || typeof value !== 'object') return value
    const special = value as { $jws?: { header: Record<string, unknown>; payload: unknown; signature: string; signed: boolean }; $b64u?: unknown; $now?: number; $fixture?: string }
    const keys = Object.keys(value)
    if (keys.length === 1 && special.$now !== undefined) return Math.floor(Date.now() / 1000) + special.$now
    if (keys.length === 1 && special.$fixture === 'holder_jwk') return this.fixtures.holderJwk
    if (keys.length === 1 && special.$b64u !== undefined) return b64u(utf8(JSON.stringify(await this.#jsonValue(special.$b64u))))
    if (keys.length === 1 && special.$jws !== undefined) {
      const { header, payload, signature, signed } = special.$jws
      const h = await this.#jsonValue(header) as Record<string, unknown>
      const p = utf8(JSON.stringify(await this.#jsonValue(payload)))
      if (signed && this.fixtures.signingKey) return await signCompactJws(this.fixtures.signingKey, h, p)
      return `${b64u(utf8(JSON.stringify(h)))}.${b64u(p)}.${signature}`
    }
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) out[k] = await this.#jsonValue(v)
    return out
  }
}

interface WireRequest {
  method: string
  url: string
  headers: Record<string, string>
  body?: Uint8Array
}

const fill = (value: string, values: Record<string, string>) => value.replace(/\{\{(\w+)\}\}/g, (whole, name: string) => values[name] ?? whole)

/** The request as sent: method, URL path, headers and the start of the body. */
function describe(wire: WireRequest): string {
  const url = new URL(wire.url)
  const body = wire.body ? `\n  body (${wire.body.length} bytes): ${JSON.stringify(Buffer.from(wire.body.subarray(0, 400)).toString('latin1'))}` : ''
  const headers = Object.entries(wire.headers).map(([name, value]) => `\n  ${name}: ${JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value)}`).join('')
  return `request: ${wire.method} ${url.pathname}${url.search.length > 600 ? `${url.search.slice(0, 600)}…` : url.search}${headers}${body}`
}

function excerpt(response: Response, body: string, at = 0): string {
  const start = Math.max(0, at - 200)
  return `response: ${response.status} ${response.headers.get('content-type') ?? ''}\n  ${JSON.stringify(body.slice(start, start + 800))}`
}
