import type Provider from 'oidc-provider'
import { notFound } from '../errors/errors.ts'
import type { Router } from '../http/router.ts'
import { cache } from '../http/guards.ts'
import { isOwnSector } from './client-policy.ts'

/**
 * GET /sectors/{client_id}: the sector identifier document (a JSON array of redirect URIs) of a
 * client PostCert gave a sector of its own (client-policy.ts), as OpenID Connect describes one.
 */
export function addSectorRoute(router: Router, deps: { provider: () => Provider; issuer: string }): void {
  router.add('GET', '/sectors/:clientId', 'sector', cache('public, max-age=300'), async (ctx, { clientId = '' }) => {
    const client = await deps.provider().Client.find(clientId)
    if (!client || !isOwnSector(deps.issuer, client.clientId, client.sectorIdentifierUri)) throw notFound('no sector document for this client')
    ctx.body = client.redirectUris
  })
}
