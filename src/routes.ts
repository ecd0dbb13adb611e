import path from 'node:path'
import { addAccountRoutes } from './account/routes.ts'
import { addPkiRoutes } from './ca/routes.ts'
import { ROOT_DIR, type AppContext } from './context.ts'
import { addEnrollmentRoutes } from './enrollment/routes.ts'
import { addHomeRoutes } from './home/routes.ts'
import { SandboxSmsGateway } from './phone/sms/sandbox-sms-gateway.ts'
import { mountApp } from './http/app.ts'
import { buildBrowserBundles } from './http/bundles.ts'
import { Router } from './http/router.ts'
import { addInteractionRoutes } from './interactions/routes.ts'
import { displayName } from './oidc/client-policy.ts'
import { addSectorRoute } from './oidc/sector-route.ts'
import { addOpsRoutes } from './ops/routes.ts'
import { trustAnchors } from './signing/anchors.ts'
import { addSignatureRoutes } from './signing/routes.ts'

/**
 * PostCert's own routes, mounted in front of the provider's endpoints (http/app.ts says in what
 * order the middleware runs). Each group receives the services it uses, nothing else.
 */
export async function mountRoutes(ctx: AppContext): Promise<void> {
  const router = await buildRouter(ctx)
  ctx.host.mount((instance) => {
    mountApp(instance, { logger: ctx.logger, metrics: ctx.metrics, views: ctx.views, router, trustProxy: ctx.config.trustProxy, issuer: ctx.config.issuer, https: ctx.https })
  })
}

/** The table of PostCert's own routes, each group given the services it uses. */
export async function buildRouter(ctx: AppContext): Promise<Router> {
  const { config, db, views, csrf, clock, audit, authority } = ctx
  const provider = () => ctx.host.provider
  const router = new Router()
  addOpsRoutes(router, { db, metrics: ctx.metrics, publicDir: path.join(ROOT_DIR, 'public'), bundles: await buildBrowserBundles(ROOT_DIR) })
  addHomeRoutes(router, { views })
  addPkiRoutes(router, { hierarchy: ctx.ca, authority, crl: ctx.crl, ocsp: ctx.ocsp })
  addSectorRoute(router, { provider, issuer: config.issuer })
  addSignatureRoutes(router, {
    db, provider, limiter: ctx.limiter, issuer: config.issuer, judge: (serial) => ctx.judgeCertificate(serial),
    anchors: () => trustAnchors({ db, ca: ctx.ca, signingKeys: ctx.signingKeys }),
  })
  addInteractionRoutes(router, {
    db, provider, views, csrf, login: ctx.login, audit, requests: ctx.requests, registrations: ctx.registrations, issuer: config.issuer, testSubscriber: ctx.testSubscriber,
    clock, renewalWindowDays: config.renewalWindowDays, consentDefaults: config.consent, signing: ctx.signing, subjectFor: (clientId, subscriberId) => ctx.subjectFor(clientId, subscriberId),
  })
  addEnrollmentRoutes(router, {
    service: ctx.enrollment, views, csrf, secureCookies: ctx.https,
    sandbox: ctx.sms.kind === 'sandbox' || ctx.identity.kind === 'sandbox',
    sandboxOutbox: ctx.sms instanceof SandboxSmsGateway ? ctx.sms : undefined, binding: ctx.binding, authority, clock,
    waitingLogin: async (uid, lang) => {
      const interaction = await provider().Interaction.find(uid)
      if (!interaction || interaction.prompt.name !== 'login') return undefined
      const clientId = String(interaction.params.client_id)
      return displayName(await provider().Client.find(clientId), lang, clientId)
    },
  })
  addAccountRoutes(router, {
    service: ctx.account, registrations: ctx.registrations, issuance: ctx.issuance, authority, binding: ctx.binding, provider, views, csrf, issuer: config.issuer, secureCookies: ctx.https, clock,
    sessions: ctx.portalSessions, loginCertificate: (ref) => ctx.loginSessions.certificateOf(ref),
  })
  return router
}
