// Bodies: forms, JSON and garbage, each as an endpoint's payload with its content type.

import fc from 'fast-check'
import type { FuzzBody } from './fuzz-request.ts'
import { contentType } from './headers.ts'
import { joinFields, long, text, unwire, type Arb, type Field } from './wire.ts'

export interface Payload { contentType?: string; body?: FuzzBody }

export const utf8 = (value: string) => new TextEncoder().encode(value)

/** Bodies that are wrong whatever the endpoint, each with some content type. */
export const garbage: Arb<Payload> = fc.record({
  contentType: fc.option(contentType, { nil: undefined }),
  body: fc.oneof(
    fc.uint8Array({ maxLength: 512 }).map((bytes): FuzzBody => ({ bytes })),
    fc.array(fc.constantFrom('\u0000', 'a', '=', '&', '{', '"', '%', '\\'), { maxLength: 64 }).map((parts): FuzzBody => ({ text: parts.join('') })),
    fc.constantFrom('{', '{"a":', '[', '[1,', 'nul', '{"a":1}}', '"\\ud800"', '{"__proto__":{"polluted":1}}', '1e99999', '"',
      '{"a":1,"a":2}', '[]', '0', '"x"', '['.repeat(20_000), '{"a":'.repeat(5_000), '\uFEFF{}').map((t): FuzzBody => ({ text: t })),
    fc.json({ maxDepth: 3 }).map((t): FuzzBody => ({ text: t })),
    long.map((t): FuzzBody => ({ text: t })),
    // invalid UTF-8 inside something that otherwise parses
    fc.uint8Array({ minLength: 1, maxLength: 8 }).map((bad): FuzzBody => ({ bytes: Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff, 0xc0, 0xaf, ...bad]), Buffer.from('"}')]) })),
  ),
}, { requiredKeys: ['body'] })

const formBody = (list: Field[]): Payload => ({ contentType: 'application/x-www-form-urlencoded', body: { text: joinFields(list) } })
const jsonOfFields = (list: Field[]): Payload => ({ contentType: 'application/json', body: { json: Object.fromEntries(list.map(([k, v]) => [unwire(k), unwire(v)])) } })

/** A form: mostly as a browser sends it, sometimes as JSON, sometimes garbage. */
export const form = (list: Arb<Field[]>): Arb<Payload> => fc.oneof(
  { arbitrary: list.map(formBody), weight: 8 },
  { arbitrary: list.map(jsonOfFields), weight: 1 },
  { arbitrary: garbage, weight: 2 },
)

/** A JSON body: mostly the endpoint's shape, sometimes any JSON, sometimes garbage. */
export const json = (shape: Arb<unknown>): Arb<Payload> => fc.oneof(
  { arbitrary: shape.map((value): Payload => ({ contentType: 'application/json', body: { json: value } })), weight: 8 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value): Payload => ({ contentType: 'application/json', body: { json: value } })), weight: 1 },
  { arbitrary: garbage, weight: 2 },
)

/** No body mostly (a body on GET is dropped by the sender). */
export const noBody: Arb<Payload> = fc.oneof({ arbitrary: fc.constant({}), weight: 8 }, { arbitrary: garbage, weight: 1 })

/** JSON values of any shape, for fields that expect something specific. */
export const anyJson: Arb<unknown> = fc.oneof({ arbitrary: text, weight: 3 }, { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 1 })
