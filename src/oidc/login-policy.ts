import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider'
import { meets, requiredAcr } from '../possession/assurance.ts'
import type { LoginRef } from '../sessions/login-sessions.ts'

const { Check } = interactionPolicy

export interface LoginPolicyDeps {
  /** How long a login may be reused at the institution it was made for (LOGIN_REUSE_SECONDS); 0: never. */
  loginReuseSeconds: number
  /** The institution a live login was made for (sessions/login-sessions.ts). */
  loginClient: (login: LoginRef) => Promise<string | undefined>
}

/**
 * When an authorization request needs a new proof of possession, on top of oidc-provider's own
 * checks (no session, max_age, id_token_hint, essential acr). As the Korean certificate norm asks,
 * every institution login proves possession: a PostCert session is no single sign-on across
 * institutions. It is reused only:
 * - at the institution the login was made for, since another institution must not log the
 *   subscriber in with one click;
 * - within loginReuseSeconds of that login, so prompt=none, max_age and id_token_hint still work
 *   as OpenID Connect says for a relying party re-checking its own login;
 * - when its assurance meets the level asked for, voluntary (acr_values) or essential (claims).
 * A login made in this very request (the interaction's result) needs nothing more. With
 * prompt=none each of these answers login_required.
 */
export function loginPolicy(deps: LoginPolicyDeps): interactionPolicy.Prompt[] {
  const policy = interactionPolicy.base()
  const login = policy.get('login')!
  const reusable = (ctx: KoaContextWithOIDC) => Boolean(ctx.oidc.session?.accountId) && !ctx.oidc.result?.login

  login.checks.add(new Check('postcert_login_expired', 'the login is older than the reuse window', 'login_required', (ctx) =>
    reusable(ctx) && (deps.loginReuseSeconds === 0 || ctx.oidc.session!.past(deps.loginReuseSeconds))))

  login.checks.add(new Check('postcert_other_institution', 'every institution login proves possession of the certificate', 'login_required', async (ctx) => {
    if (!reusable(ctx)) return Check.NO_NEED_TO_PROMPT
    const session = ctx.oidc.session!
    const client = ctx.oidc.client!
    const madeFor = typeof session.loginTs === 'number' ? await deps.loginClient({ sessionUid: session.uid, authTime: session.loginTs }) : undefined
    return madeFor !== client.clientId
  }))

  login.checks.add(new Check('postcert_acr', 'the requested assurance level needs a new proof', 'login_required', (ctx) =>
    reusable(ctx) && !meets(String(ctx.oidc.session!.acr ?? ''), requiredAcr(ctx.oidc.params as Record<string, unknown>))))

  return [...policy]
}
