import { createHash } from 'node:crypto'
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, jwtVerify, errors as joseErrors } from 'jose'
import type Provider from 'oidc-provider'
import { CLOCK_TOLERANCE_SECONDS } from '../constants.ts'
import { invalidDpopProof, RequestError } from '../errors/errors.ts'

/** DPoP proof algorithms PostCert accepts (as at its token endpoint). */
const DPOP_ALGS = ['ES256', 'PS256', 'EdDSA', 'Ed25519']
/** How old a proof may be (oidc-provider's window at the token endpoint is the same). */
const PROOF_MAX_AGE_SECONDS = 300

/** A DPoP-bound access token used without a valid proof (RFC 9449 section 7.1). */
/**
 * Checks the DPoP proof that must come with a DPoP-bound access token at one of PostCert's own
 * resources (RFC 9449 sections 4.3 and 7.1):
 * - exactly one `DPoP` header, a JWT typed `dpop+jwt`, signed with an asymmetric algorithm by
 *   the public key in its `jwk` header (never a private key);
 * - `htm` and `htu` name this request (method, and URL without query or fragment);
 * - `iat` is recent (5 minutes, with the clock tolerance for the future);
 * - `ath` is the hash of this access token, and the key is the one the token is bound to (`jkt`);
 * - `jti` is used once, across instances (oidc-provider's replay detection).
 * Throws RequestError invalid_dpop_proof.
 */
export async function checkDpopProof(provider: Provider, request: { method: string; url: string; proofs: string[] }, token: { value: string; jkt: string; clientId: string }): Promise<void> {
  if (request.proofs.length !== 1) throw invalidDpopProof(request.proofs.length ? 'one DPoP proof per request' : 'a DPoP proof is required for this access token (DPoP header)')
  const proof = request.proofs[0]!
  let payload: Record<string, unknown>
  let jwk: Record<string, unknown>
  try {
    const header = decodeProtectedHeader(proof)
    if (header.typ !== 'dpop+jwt') throw invalidDpopProof('the DPoP proof must be typed dpop+jwt')
    if (!header.jwk || 'd' in header.jwk) throw invalidDpopProof('the DPoP proof must carry its public key (jwk), and only the public part')
    jwk = header.jwk
    ;({ payload } = await jwtVerify(proof, EmbeddedJWK, { algorithms: DPOP_ALGS, typ: 'dpop+jwt' }))
  } catch (err) {
    if (err instanceof RequestError && err.kind === 'invalid_dpop_proof') throw err
    if (err instanceof joseErrors.JOSEError || err instanceof TypeError) throw invalidDpopProof(`the DPoP proof is not valid: ${err.message}`)
    throw err
  }
  if (payload.htm !== request.method) throw invalidDpopProof('the DPoP proof names another method (htm)')
  const target = new URL(request.url)
  const htu = typeof payload.htu === 'string' ? URL.parse(payload.htu) : null
  if (!htu || htu.origin !== target.origin || htu.pathname !== target.pathname) throw invalidDpopProof('the DPoP proof names another URL (htu)')
  const now = Math.floor(Date.now() / 1000)
  if (typeof payload.iat !== 'number' || payload.iat > now + CLOCK_TOLERANCE_SECONDS || payload.iat < now - PROOF_MAX_AGE_SECONDS) {
    throw invalidDpopProof('the DPoP proof is too old or dated in the future (iat)')
  }
  if (payload.ath !== createHash('sha256').update(token.value).digest('base64url')) throw invalidDpopProof('the DPoP proof is for another access token (ath)')
  if (await calculateJwkThumbprint(jwk) !== token.jkt) throw invalidDpopProof('the DPoP proof is signed by another key than the one this access token is bound to')
  if (typeof payload.jti !== 'string' || !payload.jti) throw invalidDpopProof('the DPoP proof needs a jti')
  if (!(await provider.ReplayDetection.unique(token.clientId, payload.jti, now + PROOF_MAX_AGE_SECONDS))) {
    throw invalidDpopProof('this DPoP proof was used before (jti)')
  }
}
