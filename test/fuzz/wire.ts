// Building blocks: text an attacker sends, and how it goes on the wire (values, query and form
// fields, path segments).

import fc from 'fast-check'

export type Arb<T> = fc.Arbitrary<T>
export type Field = [name: string, wireValue: string]

/**
 * Classic hostile values. None names what the checks look for in responses (a stack frame,
 * node_modules, SQL errors): a page that merely echoes its input must not fail the property.
 */
export const HOSTILE = [
  '', ' ', '0', '-1', '1e309', 'NaN', 'null', 'undefined', 'true', '[]', '{}', '[object Object]',
  '../../../../etc/passwd', '..\\..\\windows\\win.ini', '<script>alert(1)</script>', '"><svg onload=alert(1)>',
  "' OR '1'='1", "'; drop table subscriber; --", '1; select pg_sleep(5)', '${jndi:ldap://x/a}', '{{7*7}}', '#{7*7}',
  '%s%s%s%n', '\u0000', 'a\u0000b', '\uFEFF', '\u202Egnp.exe', '𝕏𝕐', 'ﷺ', 'é', '\r\n', '\t',
  'javascript:alert(1)', 'http://evil.example/', '//evil.example', 'https://fuzz.example.kr/cb#x',
  '__proto__', 'constructor', 'prototype', 'hasOwnProperty', '9'.repeat(400), 'A'.repeat(5000),
  'ci', 'openid', 'sig_', 'pc_', 'urn:ietf:params:oauth:request_uri:x',
]

/** Percent-escapes that are not valid (or decode to something nasty), kept as they are on the wire. */
const RAW_WIRE = ['%', '%%', '%E0%A4%A', '%C0%AF', '%FF%FE', '%00', '%u0041', '%2', '%ZZ', '+', '%2B', '&&', '==',
  '%0d%0aSet-Cookie:%20x=1', '%F0%9F%98', '%ED%A0%80', 'a%00b', '%25', '%7B%7Bx%7D%7D']

/** Strings long enough to reach parsers' limits (up to about 20 KB), cheap to generate. */
export const long: Arb<string> = fc.tuple(fc.string({ minLength: 1, maxLength: 4 }), fc.integer({ min: 256, max: 20_000 }))
  .map(([piece, length]) => piece.repeat(Math.ceil(length / piece.length)).slice(0, length))

/** Any text: ASCII, full Unicode (graphemes, or code units with lone surrogates), hostile values, numbers. */
export const text: Arb<string> = fc.oneof(
  { arbitrary: fc.string(), weight: 4 },
  { arbitrary: fc.string({ unit: 'grapheme' }), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary' }), weight: 1 },
  { arbitrary: fc.constantFrom(...HOSTILE), weight: 3 },
  { arbitrary: fc.integer().map(String), weight: 1 },
)

/** Text, and now and then a long one (several in one query would mostly meet the 16 KB header limit). */
const junk: Arb<string> = fc.oneof({ arbitrary: text, weight: 12 }, { arbitrary: long, weight: 1 })

export const b64u = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url')
export const b64uBytes = (maxLength = 64): Arb<string> => fc.uint8Array({ maxLength }).map(b64u)

/** Percent-encodes for a query or form; lone surrogates become U+FFFD instead of throwing. */
export const encode = (value: string) => encodeURIComponent(value.toWellFormed())

/** A value as it appears in a query or form: properly encoded text, or raw bad escapes. */
export const wire = (arb: Arb<string>): Arb<string> => fc.oneof(
  { arbitrary: arb.map(encode), weight: 8 },
  { arbitrary: fc.constantFrom(...RAW_WIRE), weight: 1 },
  { arbitrary: fc.tuple(arb, fc.constantFrom(...RAW_WIRE)).map(([a, raw]) => encode(a) + raw), weight: 1 },
)

/** A value as it appears in a query or form, placeholders kept as they are (they are URL-safe). */
export const literal = (...values: string[]): Arb<string> => fc.constantFrom(...values)

/** Present one time in `oneIn`, else undefined (left out). */
export const sometimes = <T>(arb: Arb<T>, oneIn: number): Arb<T | undefined> =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: oneIn - 1 }, { arbitrary: arb, weight: 1 })

/** What is done to a valid query or form: a value replaced by junk, a field dropped or sent twice, one added. */
interface FieldEdit { pick: number; op: 'junk' | 'drop' | 'twice' | 'add'; name: string; value: string }

/**
 * The fields of a query or form: the required ones and now and then each optional one, all with
 * plausible values; then up to three edits (none a third of the time), so that most requests are
 * valid but for one or two things and reach the checks deep inside.
 */
export function fields(required: Record<string, Arb<string>>, optional: Record<string, Arb<string>> = {}, oneIn = 4): Arb<Field[]> {
  const names = [...Object.keys(required), ...Object.keys(optional)]
  const edit: Arb<FieldEdit> = fc.record({
    pick: fc.nat(), op: fc.constantFrom('junk', 'drop', 'twice', 'add'),
    name: names.length ? fc.oneof(fc.constantFrom(...names), wire(fc.string({ maxLength: 12 }))) : wire(fc.string({ maxLength: 12 })),
    value: wire(junk),
  })
  const field = ([name, value]: [string, Arb<string>]) => value.map((v): Field => [name, v])
  return fc.tuple(
    fc.tuple(...Object.entries(required).map(field)),
    fc.tuple(...Object.entries(optional).map((entry) => sometimes(field(entry), oneIn))),
    fc.oneof({ arbitrary: fc.constant([]), weight: 1 }, { arbitrary: fc.array(edit, { minLength: 1, maxLength: 3 }), weight: 2 }),
  ).map(([must, may, edits]) => {
    const list: Field[] = [...must, ...may.filter((f) => f !== undefined)]
    for (const { pick, op, name, value } of edits) {
      const i = pick % Math.max(list.length, 1)
      if (op === 'add' || list.length === 0) list.push([name, value])
      else if (op === 'junk') list[i] = [list[i]![0], value]
      else if (op === 'drop') list.splice(i, 1)
      else list.push([list[i]![0], value])
    }
    return list
  })
}

export const joinFields = (list: Field[]) => list.map(([name, value]) => `${name}=${value}`).join('&')
export const query = (list: Field[]) => (list.length ? `?${joinFields(list)}` : '')

/** Decodes a wire value for use in a JSON body; bad escapes stay as they are. */
export function unwire(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '))
  } catch {
    return value
  }
}

/** A path segment: a plausible one or anything, percent-encoded (or with raw bad escapes). */
export const segment = (valid: Arb<string>): Arb<string> => fc.oneof(
  { arbitrary: valid, weight: 8 },
  { arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,128}$/), weight: 1 },
  { arbitrary: wire(junk).filter((s) => s !== '' && s !== '.' && s !== '..'), weight: 1 },
)
