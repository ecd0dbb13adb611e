// Headers: those any request may carry (the client address, cookies, languages, ...) and
// content types.

import fc from 'fast-check'
import { b64uBytes, HOSTILE, sometimes, type Arb } from './wire.ts'

/** Header values fetch accepts: printable ASCII, some Latin-1, tabs; never CR, LF or NUL. */
const headerChar: Arb<string> = fc.oneof(
  { arbitrary: fc.integer({ min: 0x20, max: 0x7e }), weight: 20 },
  { arbitrary: fc.integer({ min: 0xa0, max: 0xff }), weight: 1 },
  { arbitrary: fc.constant(0x09), weight: 1 },
).map((code) => String.fromCharCode(code))
export const headerText: Arb<string> = fc.oneof(
  { arbitrary: fc.string({ unit: headerChar, maxLength: 40 }), weight: 12 },
  { arbitrary: fc.constantFrom(...HOSTILE.filter((h) => /^[\x20-\x7e]*$/.test(h))), weight: 6 },
  { arbitrary: fc.integer({ min: 100, max: 8_000 }).map((n) => 'x'.repeat(n)), weight: 1 },
)

/** A different client address nearly every time (TRUST_PROXY): per-address limits do not answer everything with 429. */
const forwardedFor: Arb<string> = fc.oneof(
  { arbitrary: fc.ipV4(), weight: 16 },
  { arbitrary: fc.ipV6(), weight: 1 },
  { arbitrary: fc.tuple(fc.ipV4(), fc.ipV4()).map(([a, b]) => `${a}, ${b}`), weight: 1 },
  { arbitrary: headerText, weight: 1 },
).filter((value) => value.trim() !== '')

const COOKIE_NAMES = ['_session', '_session.sig', '_session.legacy', '_interaction', '_interaction.sig', '_interaction_resume',
  '_interaction_resume.sig', 'postcert_account', 'postcert_account.sig', 'postcert_account_login', 'postcert_account_login.sig',
  'postcert_enroll', 'postcert_enroll.sig', 'postcert_enroll_start', 'postcert_enroll_start.sig']
export const forgedCookie: Arb<string> = fc.array(fc.tuple(fc.oneof(fc.constantFrom(...COOKIE_NAMES), fc.stringMatching(/^[a-z_.]{1,12}$/)),
  fc.oneof(b64uBytes(48), headerText.map((v) => v.replace(/[;,]/g, '')))), { minLength: 1, maxLength: 4 })
  .map((pairs) => pairs.map(([name, value]) => `${name}=${value}`).join('; '))

/** Headers any request may carry: the client address always, each of the others now and then. */
export const commonHeaders: Arb<Record<string, string | undefined>> = fc.record({
  'x-forwarded-for': forwardedFor,
  'x-forwarded-proto': fc.oneof({ arbitrary: fc.constantFrom('http', 'https', 'HTTP', 'http, https', undefined), weight: 40 }, { arbitrary: headerText, weight: 1 }),
  'x-forwarded-host': sometimes(fc.oneof(fc.constantFrom('evil.example', 'a b%%', '127.0.0.1:1'), headerText), 6),
  accept: sometimes(fc.oneof(fc.constantFrom('text/html', 'application/json', '*/*', 'text/html,application/xhtml+xml,*/*;q=0.8',
    'application/token-introspection+jwt', 'application/jwt', 'image/png', 'application/json;q=0, text/html;q=0'), headerText), 2),
  'accept-language': sometimes(fc.oneof(fc.constantFrom('ko', 'en', 'en-US,en;q=0.9', 'ko-KR,ko;q=0.9', 'zz', '*', 'en;q=abc', 'x-'.repeat(300)), headerText), 3),
  cookie: sometimes(forgedCookie, 4),
  origin: sometimes(fc.oneof(fc.constantFrom('http://evil.example', 'null', 'http://127.0.0.1'), headerText), 6),
  'user-agent': sometimes(headerText, 4),
  'x-request-id': sometimes(headerText, 8),
  'if-modified-since': sometimes(fc.oneof(fc.constantFrom('Thu, 01 Jan 1970 00:00:00 GMT', 'Fri, 31 Dec 9999 23:59:59 GMT', 'yesterday'), headerText), 8),
  'if-none-match': sometimes(headerText, 10),
  range: sometimes(fc.oneof(fc.constantFrom('bytes=0-1', 'bytes=-1', 'bytes=5-2', 'bytes=0-0,1-1,2-2'), headerText), 10),
})

const CONTENT_TYPES = ['application/x-www-form-urlencoded', 'application/json', 'application/json; charset=utf-16',
  'application/json; charset=bogus', 'text/plain', 'text/html', 'multipart/form-data; boundary=----x', 'multipart/form-data',
  'application/ocsp-request', 'application/jose', 'application/jwt', 'application/x-www-form-urlencoded; charset=iso-2022-kr',
  'application/x-www-form-urlencoded; charset=utf-16le', 'application/', ';', 'application/json, text/plain', 'application/*+json']
export const contentType: Arb<string> = fc.oneof({ arbitrary: fc.constantFrom(...CONTENT_TYPES), weight: 4 }, { arbitrary: headerText, weight: 1 })
