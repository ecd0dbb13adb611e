import type { Context } from 'koa'
import type Provider from 'oidc-provider'
import type { Verdict } from '../ca/verdict.ts'
import { MAX_PUSHED_REQUEST_BYTES } from '../constants.ts'
import type { Database } from '../db/database.ts'
import { InvalidRequestError, NotFoundError } from '../errors/errors.ts'
import { readJson } from '../http/form.ts'
import type { Router } from '../http/router.ts'
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
}

/**
 * The signature archive and its verifier: GET /signatures/{id} for the institution that asked
 * (its access token), POST /signatures/verify for anyone.
 */
export function addSignatureRoutes(router: Router, deps: SignatureRouteDeps): void {
  // Every key that ever signed a receipt, public: receipts outlive the OIDC keys of the JWKS.
  router.add('GET', '/signatures/keys', 'signature_keys', async (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=300')
    ctx.type = 'application/jwk-set+json'
    ctx.body = { keys: await receiptKeys(deps.db) }
  })

  router.add('GET', '/signatures/:id', 'signature', async (ctx, { id = '' }) => {
    const clientId = await bearerClient(ctx)
    const row = /^sig_[A-Za-z0-9_-]{22}$/.test(id)
      ? await deps.db.selectFrom('signature').selectAll().where('id', '=', id).executeTakeFirst() // primary key
      : undefined
    // Another institution's signature is answered like one that does not exist.
    if (!row || row.client_id !== clientId) throw new NotFoundError('no signature with this id was made for this client')
    ctx.set('Cache-Control', 'no-store')
    ctx.body = {
      signature_id: row.id, signed_at: row.signed_at.toISOString(), holder: row.holder, certificate_serial: row.certificate_serial,
      request: JSON.parse(row.request), payload: row.payload, payload_sha256: row.payload_sha256,
      signature: JSON.parse(row.signature), receipt: row.receipt,
    }
  })

  router.add('POST', '/signatures/verify', 'signatures_verify', async (ctx) => {
    const decision = await deps.limiter.hit(`verify:${ctx.ip}`, VERIFY_PER_MINUTE, 60)
    if (!decision.allowed) throw verifyRateLimited(decision.retryAfterSeconds)
    const body = await readJson(ctx, MAX_VERIFY_BYTES)
    if (!isEvidence(body)) throw new InvalidRequestError('expected signature evidence: payload, signature and receipt (as in the token response or GET /signatures/{id})')
    const report = await verifyEvidence(body, await deps.anchors())
    ctx.set('Cache-Control', 'no-store')
    ctx.body = await withStatusNow(report, deps.judge)
  })

  /** The client of the bearer access token (RFC 6750). */
  async function bearerClient(ctx: Context): Promise<string> {
    const refuse = (why: string) => {
      ctx.set('WWW-Authenticate', `Bearer realm="signatures", error="invalid_token"`)
      return invalidToken(why)
    }
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(ctx.get('authorization'))
    if (!match) throw refuse('an access token is required (Authorization: Bearer)')
    const token = await deps.provider().AccessToken.find(match[1]!)
    if (!token) throw refuse('the access token is unknown or expired')
    if (token.jkt) throw refuse('a DPoP-bound access token needs a DPoP proof, which this endpoint does not take yet')
    return token.clientId!
  }
}
