import type { Context } from 'koa'
import type Provider from 'oidc-provider'
import type { Verdict } from '../ca/verdict.ts'
import { MAX_PUSHED_REQUEST_BYTES } from '../constants.ts'
import type { Database } from '../db/database.ts'
import { invalidRequest, notFound, RequestError } from '../errors/errors.ts'
import { checkDpopProof } from '../http/dpop-proof.ts'
import { readJson } from '../http/form.ts'
import type { Router } from '../http/router.ts'
import { cache, noStore } from '../http/guards.ts'
import type { RateLimiter } from '../util/rate-limiter.ts'
import { receiptKeys } from './anchors.ts'
import { invalidToken, verifyRateLimited } from './errors.ts'
import { isEvidence, verifyEvidence, withStatusNow, type TrustAnchors } from './verify.ts'

/** Evidence with the documents' texts is as long as the request that carried them, and more. */
const MAX_VERIFY_BYTES = MAX_PUSHED_REQUEST_BYTES + 1024 * 1024
/** Verifications per client address per minute (each is a few signature checks). */
const VERIFY_PER_MINUTE = 120

export interface SignatureRouteDeps {
  db: Database
  provider: () => Provider
  anchors: () => Promise<TrustAnchors>
  /** The verdict on a certificate now. */
  judge: (serial: string) => Promise<Verdict>
  limiter: RateLimiter
  /** The issuer: the URL a DPoP proof names (htu) is the public one, not the one behind the proxy. */
  issuer: string
}

/**
 * The signature archive and its verifier: GET /signatures/{id} for the institution that asked
 * (its access token), POST /signatures/verify for anyone.
 */
export function addSignatureRoutes(router: Router, deps: SignatureRouteDeps): void {
  // Every key that ever signed a receipt, public: receipts outlive the OIDC keys of the JWKS.
  router.add('GET', '/signatures/keys', 'signature_keys', cache('public, max-age=300'), async (ctx) => {
    ctx.type = 'application/jwk-set+json'
    ctx.body = { keys: await receiptKeys(deps.db) }
  })

  router.add('GET', '/signatures/:id', 'signature', noStore, async (ctx, { id = '' }) => {
    const clientId = await bearerClient(ctx)
    const row = /^sig_[A-Za-z0-9_-]{22}$/.test(id)
      ? await deps.db.selectFrom('signature').selectAll().where('id', '=', id).executeTakeFirst() // primary key
      : undefined
    // Another institution's signature is answered like one that does not exist.
    if (!row || row.client_id !== clientId) throw notFound('no signature with this id was made for this client')
    ctx.body = {
      signature_id: row.id, signed_at: row.signed_at.toISOString(), holder: row.holder, certificate_serial: row.certificate_serial,
      request: JSON.parse(row.request) as unknown, payload: row.payload, payload_sha256: row.payload_sha256,
      signature: JSON.parse(row.signature) as unknown, receipt: row.receipt,
    }
  })

  router.add('POST', '/signatures/verify', 'signatures_verify', noStore, async (ctx) => {
    const decision = await deps.limiter.hit(`verify:${ctx.ip}`, VERIFY_PER_MINUTE, 60)
    if (!decision.allowed) throw verifyRateLimited(decision.retryAfterSeconds)
    const body = await readJson(ctx, MAX_VERIFY_BYTES)
    if (!isEvidence(body)) throw invalidRequest('expected signature evidence: payload, signature and receipt (as in the token response or GET /signatures/{id})')
    const report = await verifyEvidence(body, await deps.anchors())
    ctx.body = await withStatusNow(report, deps.judge)
  })

  /**
   * The client of the access token: a bearer token (RFC 6750), or a DPoP-bound one with the
   * `DPoP` scheme and a proof (RFC 9449), as FAPI clients hold.
   */
  async function bearerClient(ctx: Context): Promise<string> {
    const challenge = 'Bearer realm="signatures", DPoP realm="signatures" algs="ES256 PS256 EdDSA"'
    const refuse = (why: string) => {
      ctx.set('WWW-Authenticate', challenge.replace('Bearer realm="signatures"', 'Bearer realm="signatures", error="invalid_token"'))
      return invalidToken(why)
    }
    const match = /^(Bearer|DPoP) ([A-Za-z0-9._~+/-]+=*)$/i.exec(ctx.get('authorization'))
    if (!match) throw refuse('an access token is required (Authorization: Bearer, or DPoP with a proof)')
    const provider = deps.provider()
    const scheme = match[1]!.toLowerCase()
    const token = await provider.AccessToken.find(match[2]!)
    if (!token) throw refuse('the access token is unknown or expired')
    if (token.jkt) {
      if (scheme !== 'dpop') throw refuse('this access token is DPoP-bound: send it with the DPoP scheme and a proof')
      const proofs = ctx.req.headersDistinct.dpop ?? []
      try {
        await checkDpopProof(provider, { method: ctx.method, url: `${deps.issuer}${ctx.path}`, proofs }, { value: match[2]!, jkt: token.jkt, clientId: token.clientId! })
      } catch (err) {
        if (err instanceof RequestError && err.kind === 'invalid_dpop_proof') ctx.set('WWW-Authenticate', challenge.replace('DPoP realm="signatures"', 'DPoP realm="signatures", error="invalid_dpop_proof"'))
        throw err
      }
    } else if (scheme !== 'bearer') {
      throw refuse('this access token is not DPoP-bound: send it with the Bearer scheme')
    }
    return token.clientId!
  }
}
