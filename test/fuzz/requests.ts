// Property-based fuzzing of PostCert's HTTP surface (issue #14): hostile requests for every
// endpoint family, the live fixtures they refer to, and the check each response must pass.
// Shared by test/fuzz/endpoints.test.ts (a short run in CI) and fuzz/run.ts (long runs).
//
// What the generators aim at: mostly requests that are valid but for one or two things (so the
// checks deep inside are reached), the rest anything at all; the real session mostly, forged
// or missing now and then; a client address of its own for nearly every request (the server
// trusts X-Forwarded-For), so that per-address limits leave most requests through.
//
// The parts, each in its own file:
// - fuzz-request.ts: what a generated request is (plain data with placeholders)
// - wire.ts, headers.ts, bodies.ts, jws.ts, webauthn.ts: the building blocks
// - endpoint.ts: one endpoint's request, the session headers of a live flow
// - oidc-parameters.ts, oidc-requests.ts, interaction-requests.ts, enrollment-requests.ts,
//   portal-requests.ts, pki-requests.ts, signature-requests.ts: the endpoint families
// - fixtures.ts: the live values the placeholders name
// - fuzzer.ts (with edits.ts): sending a request and checking the response

import fc from 'fast-check'
import { enrollment } from './enrollment-requests.ts'
import { FAMILIES, type Family, type FuzzRequest } from './fuzz-request.ts'
import { interaction } from './interaction-requests.ts'
import { oidc } from './oidc-requests.ts'
import { pki } from './pki-requests.ts'
import { portal } from './portal-requests.ts'
import { signatures } from './signature-requests.ts'
import type { Arb } from './wire.ts'

export { FAMILIES }
export type { ByteEdit, Family, FuzzBody, FuzzRequest, JsonEdit, OwnJwt } from './fuzz-request.ts'

const BY_FAMILY: Record<Family, Arb<FuzzRequest>> = { oidc, interaction, enrollment, portal, pki, signatures }

/** Hostile requests of one family, or of all (each family as likely). */
export function requests(family?: Family): Arb<FuzzRequest> {
  return family ? BY_FAMILY[family] : fc.oneof(...FAMILIES.map((f) => BY_FAMILY[f]))
}
