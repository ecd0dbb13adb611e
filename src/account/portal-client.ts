import type { Logger } from 'pino'
import { PUBLIC_SUBJECT_ALLOWED } from '../oidc/client-policy.ts'
import type { ClientStore } from '../oidc/client-store.ts'

/** The client_id of the subscriber portal: PostCert as its own first-party client. */
export const ACCOUNT_CLIENT_ID = 'postcert-account'

export const accountRedirectUri = (issuer: string) => `${issuer}/account/callback`

/**
 * Registers the portal as a client of PostCert (at every start, on every instance: the same
 * metadata, so a change of PUBLIC_URL or of the service's name is picked up). It is named after
 * the service (`service`, the operator's name in each language) in the activity list. A public client with PKCE whose subjects
 * are the subscriber ids; it is first-party, so no registration (consent) page is shown for it
 * (provider.ts, loadExistingGrant). Its codes are redeemed in-process (account/routes.ts).
 */
export async function registerAccountClient(store: ClientStore, issuer: string, service: { ko: string; en: string }, logger: Logger): Promise<void> {
  const redirectUri = accountRedirectUri(issuer)
  const name = { ko: `${service.ko} 내 정보`, en: `${service.en}: my account` }
  const current = await store.show(ACCOUNT_CLIENT_ID).catch(() => undefined)
  // Up to date: the same redirect URI and names, and public subjects approved (clients registered before that needed no flag).
  if ((current?.redirect_uris as string[] | undefined)?.[0] === redirectUri && current?.[PUBLIC_SUBJECT_ALLOWED] === true
    && current.client_name === name.ko && current['client_name#en'] === name.en) return
  if (current) await store.remove(ACCOUNT_CLIENT_ID).catch(() => {})
  try {
    await store.add({
      clientId: ACCOUNT_CLIENT_ID, name: name.ko, public: true, publicSubject: true, redirectUris: [redirectUri], grantTypes: ['authorization_code'],
      scope: 'openid', metadata: { subject_type: 'public', 'client_name#en': name.en, 'client_name#ko': name.ko },
    })
  } catch (err) {
    // Several instances (or workers) start at once: whichever registered it first did the job.
    const now = await store.show(ACCOUNT_CLIENT_ID).catch(() => undefined)
    if ((now?.redirect_uris as string[] | undefined)?.[0] !== redirectUri) throw err
    return
  }
  logger.info({ client_id: ACCOUNT_CLIENT_ID }, 'subscriber portal registered as a first-party client')
}
