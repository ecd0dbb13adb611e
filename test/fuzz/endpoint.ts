// Requests: one endpoint's request from its method, target, headers and payload; the session
// headers and CSRF fields of a live flow.

import fc from 'fast-check'
import { noBody, type Payload } from './bodies.ts'
import type { Family, FuzzRequest, OwnJwt } from './fuzz-request.ts'
import { commonHeaders, contentType, forgedCookie, headerText } from './headers.ts'
import { sometimes, text, wire, type Arb } from './wire.ts'

export const ANY_METHOD = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'PROPFIND']
/** The endpoint's method, sometimes another one. */
export const mostly = (method: string): Arb<string> => fc.oneof({ arbitrary: fc.constant(method), weight: 12 }, { arbitrary: fc.constantFrom(...ANY_METHOD), weight: 1 })

interface Endpoint {
  method: Arb<string>
  target: Arb<string>
  /** The request's own JWTs, named in what follows. */
  jwts?: Arb<Partial<Record<OwnJwt, unknown>>>
  /** The endpoint's own headers (cookies, CSRF, Authorization); they win over the common ones. */
  headers?: Arb<Record<string, string | undefined>>
  payload?: Arb<Payload>
}

export function endpoint(family: Family, e: Endpoint): Arb<FuzzRequest> {
  return fc.record({
    method: e.method, target: e.target, jwts: e.jwts ?? fc.constant({}), common: commonHeaders, own: e.headers ?? fc.constant<Record<string, string | undefined>>({}), payload: e.payload ?? noBody,
    // now and then a content type that does not match the body
    otherType: sometimes(contentType, 10),
  }).map(({ method, target, jwts, common, own, payload, otherType }) => {
    const headers: Record<string, string> = {}
    for (const [name, value] of [...Object.entries(common), ...Object.entries(own)]) if (value !== undefined) headers[name] = value
    const type = otherType ?? payload.contentType
    if (type !== undefined) headers['content-type'] = type
    return { family, method, target, headers, ...(payload.body ? { body: payload.body } : {}), ...(Object.keys(jwts).length ? { jwts } : {}) }
  })
}

/** Headers a live session would carry: the real cookie and CSRF token mostly, sometimes forged or missing. */
export function session(cookie: string, csrf: string | undefined): Arb<Record<string, string | undefined>> {
  return fc.record({
    cookie: fc.oneof({ arbitrary: fc.constant(cookie), weight: 12 }, { arbitrary: forgedCookie, weight: 1 }, { arbitrary: fc.constant(`${cookie}; ${'x'.repeat(10)}=1`), weight: 1 }, { arbitrary: fc.constant(undefined), weight: 1 }),
    'x-csrf-token': csrf ? fc.oneof({ arbitrary: fc.constant<string | undefined>(csrf), weight: 12 }, { arbitrary: headerText, weight: 1 }, { arbitrary: fc.constant(undefined), weight: 1 }) : fc.constant(undefined),
  })
}

/** A CSRF form field: the real token mostly. */
export const csrfField = (placeholder: string): Arb<string> => fc.oneof({ arbitrary: fc.constant(placeholder), weight: 12 }, { arbitrary: wire(text), weight: 1 })
