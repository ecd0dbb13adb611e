import type Provider from 'oidc-provider'
import type { Logger } from 'pino'
import type { Metrics } from '../ops/metrics.ts'
import { errorHandler } from './error-handler.ts'
import { postAsGet } from './post-as-get.ts'
import { publicOrigin, resumeWithoutParameters } from './public-origin.ts'
import { pushedRequestBody } from './pushed-request-body.ts'
import { requestContext } from './request-context.ts'
import { requireHttps } from './require-https.ts'
import type { Router } from './router.ts'
import { securityHeaders } from './security-headers.ts'
import type { Views } from './views.ts'

export interface AppDeps {
  logger: Logger
  metrics: Metrics
  views: Views
  router: Router
  trustProxy: boolean
  /** PUBLIC_URL without a trailing slash: the origin every URL PostCert writes starts with. */
  issuer: string
  /** The issuer is https: require requests to arrive over https and send HSTS. */
  https: boolean
}

/**
 * The HTTP application is the oidc-provider Koa app with PostCert's middleware in front:
 * request id + logs + metrics, security headers, the error model, https enforcement, then
 * PostCert's own routes.
 * Paths none of those serve fall through to the provider's endpoints.
 */
export function mountApp(provider: Provider, deps: AppDeps): Provider {
  provider.use(requestContext(deps.logger, deps.metrics, deps.trustProxy))
  provider.use(securityHeaders(deps.https))
  provider.use(errorHandler(deps.views, deps.logger))
  provider.use(publicOrigin(deps.issuer, deps.trustProxy))
  provider.use(resumeWithoutParameters)
  provider.use(requireHttps(deps.https))
  provider.use(pushedRequestBody('/request'))
  provider.use(postAsGet(['/auth', '/session/end']))
  provider.use(deps.router.middleware())
  return provider
}
