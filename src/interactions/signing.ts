import { createHash } from 'node:crypto'
import type { Context } from 'koa'
import type { default as Provider } from 'oidc-provider'
import type { AuditLog } from '../audit/audit-log.ts'
import { INTERACTION_REFUSALS, invalidRequest } from '../errors/errors.ts'
import { PossessionError } from '../possession/errors.ts'
import { SIGNATURE_REFUSALS } from '../signing/errors.ts'
import type { Csrf } from '../http/csrf.ts'
import { readJson } from '../http/form.ts'
import type { Router } from '../http/router.ts'
import { noStore, slot, type Step } from '../http/guards.ts'
import { scriptJson, type Locale, type Views } from '../http/views.ts'
import { passkeyOnly, requiredAcr } from '../possession/assurance.ts'
import type { PostcertConsentResult } from '../oidc/provider.ts'
import { renderDocumentText } from '../signing/document-text.ts'
import { signedDocuments } from '../signing/payload.ts'
import { parseSignatureRequest, SIGNATURE_TYPE, type SignatureRequest } from '../signing/request.ts'
import type { SigningContext, SigningService, StoredSignature } from '../signing/signing-service.ts'
import type { Registrations } from '../registrations/registrations.ts'

type LoadedInteraction = Awaited<ReturnType<Provider['interactionDetails']>>

/** The refusals the signing endpoints answer with, shown by the page in its language (views/locales `error.<code>`). */
export const SIGNING_ERRORS = [...PossessionError.codes, ...SIGNATURE_REFUSALS, ...INTERACTION_REFUSALS]

/** The `postcert_signature` detail of this interaction's request, if it asks for a signature (already validated at /auth). */
export function signatureRequestOf(details: LoadedInteraction): SignatureRequest | undefined {
  const raw = details.params.authorization_details
  if (typeof raw !== 'string') return undefined
  const detail = (JSON.parse(raw) as { type?: unknown }[]).find((d) => d.type === SIGNATURE_TYPE)
  return detail ? parseSignatureRequest(detail) : undefined
}

/**
 * The name under which the login page keeps the key it opened for the signature the same request
 * asks for (src/browser/key-store.ts, keepUnlocked), and the signing page finds it: one password
 * for the visit. The login and the signing page are two interactions (two uids) of one
 * authorization request, so it is named after the request: the institution, its state and nonce,
 * and what is to be signed. Undefined for a request that asks for no signature.
 */
export function signingHandoff(details: LoadedInteraction): string | undefined {
  const raw = details.params.authorization_details
  if (typeof raw !== 'string' || !signatureRequestOf(details)) return undefined
  const { client_id: clientId, state, nonce } = details.params
  return createHash('sha256').update(JSON.stringify([clientId, state ?? null, nonce ?? null, raw])).digest('base64url')
}

export interface SigningRouteDeps {
  provider: () => Provider
  views: Views
  csrf: Csrf
  signing: SigningService
  registrations: Registrations
  audit: AuditLog
  /** The pairwise subject this client knows the subscriber by. */
  subjectFor: (clientId: string, subscriberId: string) => Promise<string>
  /** The interaction behind this browser's cookie, which must be the one in the URL. */
  interactionDetails: (provider: Provider, ctx: Context, uid: string) => Promise<LoadedInteraction>
}

/** The signing page: the institution, every document and the transaction, and the holders to sign with. */
export async function renderSigningPage(deps: SigningRouteDeps, input: {
  lang: Locale; details: LoadedInteraction; request: SignatureRequest
  common: { uid: string; csrf: string; clientName: string; logo?: string; claims: string[] }
}): Promise<string> {
  const { lang, details, request, common } = input
  const prepared = await deps.signing.prepare({ interactionUid: common.uid, clientId: String(details.params.client_id), request })
  const missing = details.prompt.details as { missingOIDCScope?: string[] }
  return deps.views.render('sign', lang, 'sign.title', {
    ...common, scripts: ['/assets/sign.js'], handoff: signingHandoff(details),
    documents: request.documents?.map((d, i) => ({ ...d, number: i + 1, html: renderDocumentText(d.text, d.text_format) })),
    // Shown with digit grouping; what is signed is the amount as the institution wrote it.
    transaction: request.transaction && { ...request.transaction, shown: amountText(request.transaction.amount, request.transaction.currency, lang) },
    // A first signature at this institution registers the certificate there too.
    registers: Boolean(missing.missingOIDCScope?.length),
    passkeyOnly: passkeyOnly(details.params),
    signPayload: scriptJson({ canonical: prepared.canonical }),
    signMessages: deps.views.scriptMessages(lang, ['loginjs.', 'signjs.'], SIGNING_ERRORS),
  })
}

/** POST /interaction/:uid/sign/file and /sign/passkey: the subscriber's signature; the page then goes on to the institution. */
export function addSigningRoutes(router: Router, deps: SigningRouteDeps): void {
  /** Guard of the signing page's JSON endpoints: the interaction cookie plus a CSRF header, a signature awaited (signingStep.get). */
  const signingStep = slot<{ provider: Provider; details: LoadedInteraction; context: SigningContext; body: Record<string, unknown> }>('interaction awaiting a signature')
  const signingApi: Step = async (ctx, { uid = '' }) => {
    const provider = deps.provider()
    const details = await deps.interactionDetails(provider, ctx, uid)
    deps.csrf.verify(`interaction:${uid}`, ctx.get('x-csrf-token') || null)
    const request = details.prompt.name === 'consent' ? signatureRequestOf(details) : undefined
    const subscriberId = details.session?.accountId
    if (!request || !subscriberId) throw invalidRequest('this sign-in request is not waiting for a signature')
    const clientId = String(details.params.client_id)
    const context = { interactionUid: uid, clientId, subscriberId, subject: await deps.subjectFor(clientId, subscriberId), request, requiredAcr: requiredAcr(details.params), source: ctx.ip }
    signingStep.set(ctx, { provider, details, context, body: await readJson(ctx) })
  }

  router.add('POST', '/interaction/:uid/sign/file', 'interaction_sign_file', noStore, signingApi, async (ctx) => {
    const { provider, details, context, body } = signingStep.get(ctx)
    if (typeof body.jws !== 'string') throw invalidRequest('jws must be a compact JWS')
    if (typeof body.cms !== 'string') throw invalidRequest('cms must be a detached CMS SignedData (base64 DER)')
    const stored = await deps.signing.signWithFile(context, body.jws, body.cms)
    ctx.body = { redirect: await finish(provider, ctx, details, context.request, stored) }
  })

  router.add('POST', '/interaction/:uid/sign/passkey', 'interaction_sign_passkey', noStore, signingApi, async (ctx) => {
    const { provider, details, context, body } = signingStep.get(ctx)
    if (typeof body.assertion !== 'object' || body.assertion === null) throw invalidRequest('assertion must be a WebAuthn response')
    if (typeof body.payload !== 'string') throw invalidRequest('payload must be the signed payload (canonical JSON)')
    const stored = await deps.signing.signWithPasskey(context, body.assertion as never, body.payload)
    ctx.body = { redirect: await finish(provider, ctx, details, context.request, stored) }
  })

  /** Registers if needed, and hands the signature to the code through the consent result. */
  async function finish(provider: Provider, ctx: Context, details: LoadedInteraction, request: SignatureRequest, stored: StoredSignature): Promise<string> {
    const grantId = await deps.registrations.register(provider, details)
    const postcertSignature = {
      type: SIGNATURE_TYPE,
      signature_id: stored.id,
      ...signedDocuments(request),
      ...(request.transaction ? { transaction: request.transaction } : {}),
      payload: stored.payload,
      payload_sha256: stored.payloadSha256,
      signature: stored.signature,
      receipt: stored.receipt,
    }
    const consent: PostcertConsentResult = { postcertSignature }
    return await provider.interactionResult(ctx.req, ctx.res, { consent: { grantId, ...consent } }, { mergeWithLastSubmission: true })
  }
}

/** "1500000.5" -> "1,500,000.5" */
/** An amount as a reader of the page writes it: 1,500,000원 in Korean, KRW 1,500,000 in English; other currencies by their code. */
function amountText(amount: string, currency: string, lang: Locale): string {
  const grouped = groupDigits(amount)
  if (currency === 'KRW' && lang === 'ko') return `${grouped}원`
  return lang === 'en' ? `${currency} ${grouped}` : `${grouped} ${currency}`
}

function groupDigits(amount: string): string {
  const [whole, fraction] = amount.split('.')
  return `${whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${fraction ? `.${fraction}` : ''}`
}
