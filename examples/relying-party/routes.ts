// Demo Bank's routes: sign-in (PKCE S256, state, nonce), the verified claims, RP-initiated and
// back-channel logout, and a contract signed through PostCert (contract.ts). No JavaScript in the pages; every value escaped (pages.ts).
import Koa, { type Context } from 'koa'
import * as client from 'openid-client'
import { ACR_HIGH, claimRows } from './claims.ts'
import { contractPage, signedPage } from './contract-pages.ts'
import { CONTRACT_TEXT, contractSignatureRequest, ContractVerifier } from './contract.ts'
import { InvalidLogoutTokenError, LogoutTokenVerifier } from './logout-token.ts'
import { errorPage, homePage, html, mePage, type SafeHtml } from './pages.ts'
import { sameToken, SessionStore, type Login, type PendingLogin, type Session } from './sessions.ts'

const FORM_LIMIT = 64 * 1024

export interface DemoAppDeps {
  /** openid-client's configuration, from discovery. */
  config: client.Configuration
  clientId: string
  baseUrl: string
  scope: string
  /** Static files served at /static/<name>. */
  assets: Map<string, { type: string; body: Buffer }>
  log: (message: string) => void
}

export function createDemoApp(deps: DemoAppDeps): Koa {
  const { config, baseUrl, log } = deps
  const metadata = config.serverMetadata()
  const sessions = new SessionStore()
  const contracts = new ContractVerifier({ issuer: metadata.issuer, jwksUri: metadata.jwks_uri!, clientId: deps.clientId })
  const verifier = new LogoutTokenVerifier({ jwksUri: metadata.jwks_uri!, issuer: metadata.issuer, clientId: deps.clientId })
  const secure = baseUrl.startsWith('https:')
  // The __Host- prefix pins a Secure cookie to this origin and path.
  const cookieName = secure ? '__Host-demobank' : 'demobank'
  const endSession = metadata.end_session_endpoint
  // The logout form redirects to PostCert, and browsers apply form-action to that redirect too.
  const csp = ["default-src 'self'", "script-src 'none'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'",
    `form-action 'self'${endSession ? ` ${new URL(endSession).origin}` : ''}`].join('; ')

  const current = (ctx: Context) => sessions.get(ctx.cookies.get(cookieName))
  const setSessionCookie = (ctx: Context, session: Session) =>
    ctx.append('Set-Cookie', `${cookieName}=${session.id}; Path=/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`)
  const page = (ctx: Context, status: number, body: string) => {
    ctx.status = status
    ctx.type = 'html'
    ctx.body = body
  }
  const failure = (ctx: Context, status: number, explanation: SafeHtml, code?: string, description?: string) =>
    page(ctx, status, errorPage({ title: html`로그인하지 못했습니다 <span lang="en">Sign-in did not complete</span>`, explanation, code, description }))

  const routes: Record<string, (ctx: Context) => Promise<void> | void> = {
    'GET /': (ctx) => {
      const session = current(ctx)
      const signedOut = session?.logoutState !== undefined && ctx.query.state === session.logoutState
      if (signedOut) session!.logoutState = undefined
      const login = session?.login
      const name = login ? [login.userinfo.name, login.claims.name].find((n): n is string => typeof n === 'string') ?? '' : undefined
      page(ctx, 200, homePage({ name, csrf: login ? session!.csrf : undefined, signedOut }))
    },

    'GET /login': async (ctx) => {
      let session = current(ctx)
      if (!session) {
        session = sessions.create()
        setSessionCookie(ctx, session)
      }
      const acr = ctx.query.acr === 'high' ? ACR_HIGH : undefined
      const codeVerifier = client.randomPKCECodeVerifier()
      const state = client.randomState()
      const nonce = client.randomNonce()
      sessions.addPending(session, state, { codeVerifier, nonce, acr })
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: `${baseUrl}/callback`, scope: deps.scope, state, nonce,
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256',
        ...(acr ? { acr_values: acr } : {}),
        // OpenID Connect grants offline_access only with prompt=consent.
        ...(deps.scope.split(' ').includes('offline_access') ? { prompt: 'consent' } : {}),
      })
      ctx.redirect(url.href)
    },

    'GET /contract': (ctx) => page(ctx, 200, contractPage()),

    // The contract is long: the request is pushed to PostCert first (PAR), the browser carries its request_uri.
    'GET /contract/sign': async (ctx) => {
      let session = current(ctx)
      if (!session) {
        session = sessions.create()
        setSessionCookie(ctx, session)
      }
      const codeVerifier = client.randomPKCECodeVerifier()
      const state = client.randomState()
      const nonce = client.randomNonce()
      sessions.addPending(session, state, { codeVerifier, nonce, signing: true })
      const url = await client.buildAuthorizationUrlWithPAR(config, {
        redirect_uri: `${baseUrl}/callback`, scope: 'openid', state, nonce,
        code_challenge: await client.calculatePKCECodeChallenge(codeVerifier), code_challenge_method: 'S256',
        authorization_details: JSON.stringify(contractSignatureRequest()),
      })
      ctx.redirect(url.href)
    },

    'GET /contract/signed': async (ctx) => {
      const session = current(ctx)
      const evidence = session?.signature
      if (!evidence) return ctx.redirect('/contract')
      // Checked again on every view: the certificate's status now may have changed since.
      const tampered = ctx.query.tampered === '1'
      const checked = await contracts.check(evidence, tampered ? CONTRACT_TEXT.replace('5,000,000원', '50,000,000원') : CONTRACT_TEXT)
      page(ctx, 200, signedPage({ checked, signatureId: String(evidence.signature_id), tampered }))
    },

    'GET /callback': async (ctx) => {
      const session = current(ctx)
      const state = typeof ctx.query.state === 'string' ? ctx.query.state : undefined
      const pending = state !== undefined ? session?.pending.get(state) : undefined
      if (!session || !state || !pending) {
        return failure(ctx, 400, html`이 응답은 이 브라우저에서 시작한 로그인과 맞지 않거나 만료되었습니다. 다시 로그인해 주세요.
<span lang="en">This response does not match a sign-in started in this browser, or it expired. Please sign in again.</span>`)
      }
      session.pending.delete(state)
      if (pending.signing) return await signed(ctx, session, state, pending)
      let login: Login
      try {
        const tokens = await client.authorizationCodeGrant(config, new URL(ctx.originalUrl, baseUrl), {
          pkceCodeVerifier: pending.codeVerifier, expectedState: state, expectedNonce: pending.nonce, idTokenExpected: true,
        })
        const claims = tokens.claims()!
        const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub)
        login = { idToken: tokens.id_token!, claims, userinfo, refreshToken: tokens.refresh_token }
      } catch (err) {
        // An error response (state and iss checked by openid-client): the sign-in just did not
        // happen, e.g. access_denied when the customer cancels or declines to register here.
        if (err instanceof client.AuthorizationResponseError) return failure(ctx, 200, explain(err.error), err.error, err.error_description)
        log(`sign-in failed: ${(err as Error).message}`)
        // The OAuth error or openid-client's check code helps a developer; the message and stack stay in the log.
        const code = err instanceof client.ResponseBodyError ? err.error : err instanceof client.ClientError ? err.code : undefined
        return failure(ctx, 400, html`PostCert의 응답을 확인하지 못했습니다. 다시 로그인해 주세요.
<span lang="en">PostCert's response could not be verified. Please sign in again.</span>`, code)
      }
      // acr_values is a request; the ID token's acr is what actually happened.
      if (pending.acr && login.claims.acr !== pending.acr) {
        return failure(ctx, 400, html`요청한 보안 등급(패스키)으로 로그인하지 않았습니다.
<span lang="en">The sign-in did not reach the requested assurance level (passkey).</span>`)
      }
      const fresh = sessions.create(session)
      fresh.login = login
      setSessionCookie(ctx, fresh)
      ctx.redirect('/me')
    },

    'GET /me': (ctx) => {
      const session = current(ctx)
      if (!session?.login) return ctx.redirect('/')
      const { claims, userinfo } = session.login
      page(ctx, 200, mePage({
        ...claimRows(claims, userinfo), raw: { id_token: claims, userinfo }, csrf: session.csrf,
        canRefresh: Boolean(session.login.refreshToken), refreshed: ctx.query.refreshed === '1',
      }))
    },

    // What a bank does to keep a customer signed in: a new access token from the refresh token,
    // and the details again. PostCert refuses it once the certificate that logged in is revoked,
    // suspended or expired: the customer is then signed out here too.
    'POST /refresh': async (ctx) => {
      const form = await readForm(ctx)
      const session = current(ctx)
      ctx.status = 303
      const refreshToken = session?.login?.refreshToken
      if (!session?.login || !refreshToken || !form || !sameToken(session.csrf, form.get('csrf'))) return ctx.redirect('/')
      try {
        const tokens = await client.refreshTokenGrant(config, refreshToken)
        session.login.userinfo = await client.fetchUserInfo(config, tokens.access_token, session.login.claims.sub)
        session.login.refreshToken = tokens.refresh_token ?? refreshToken
        ctx.redirect('/me?refreshed=1')
      } catch (err) {
        const code = err instanceof client.ResponseBodyError ? err.error : (err as Error).message
        log(`refresh refused: ${code}`)
        session.login = undefined
        page(ctx, 200, errorPage({
          title: html`PostCert 로그인이 끝났습니다 <span lang="en">Your PostCert login has ended</span>`,
          explanation: html`인증서가 폐기·정지되었거나 만료되어 다시 로그인해야 합니다.
<span lang="en">The certificate was revoked, suspended or has expired: please sign in again.</span>`,
          code,
        }))
      }
    },

    'POST /logout': async (ctx) => {
      const form = await readForm(ctx)
      const session = current(ctx)
      ctx.status = 303
      if (!session?.login) return ctx.redirect('/')
      if (!form || !sameToken(session.csrf, form.get('csrf'))) {
        return page(ctx, 400, errorPage({
          title: html`로그아웃하지 못했습니다 <span lang="en">Could not sign out</span>`,
          explanation: html`이 양식은 만료되었습니다. 다시 시도해 주세요. <span lang="en">This form expired. Please try again.</span>`,
        }))
      }
      const { idToken } = session.login
      session.login = undefined
      if (!endSession) return ctx.redirect('/')
      // Sign out at PostCert too; it sends the browser back to `/` with this state.
      session.logoutState = client.randomState()
      ctx.redirect(client.buildEndSessionUrl(config, {
        id_token_hint: idToken, post_logout_redirect_uri: `${baseUrl}/`, state: session.logoutState,
      }).href)
    },

    'POST /backchannel-logout': async (ctx) => {
      ctx.set('Cache-Control', 'no-store')
      const token = (await readForm(ctx))?.get('logout_token')
      let target
      try {
        if (!token) throw new InvalidLogoutTokenError('expected a form with logout_token')
        target = await verifier.verify(token)
      } catch (err) {
        const description = err instanceof InvalidLogoutTokenError ? err.message : 'logout_token could not be verified'
        log(`back-channel logout refused: ${err instanceof InvalidLogoutTokenError ? description : (err as Error).message}`)
        ctx.status = 400
        ctx.body = { error: 'invalid_request', error_description: description }
        return
      }
      const ended = sessions.endLogins(target)
      log(`back-channel logout: ended ${ended} session(s) (sid ${target.sid ?? '-'}, sub ${target.sub ?? '-'})`)
      ctx.status = 200
    },
  }

  /** The callback of a signature request: the signature comes with the tokens, and is checked before it is kept. */
  async function signed(ctx: Context, session: Session, state: string, pending: PendingLogin) {
    try {
      const tokens = await client.authorizationCodeGrant(config, new URL(ctx.originalUrl, baseUrl), {
        pkceCodeVerifier: pending.codeVerifier, expectedState: state, expectedNonce: pending.nonce, idTokenExpected: true,
      })
      const [evidence] = (tokens.authorization_details ?? []) as unknown as Record<string, unknown>[]
      if (evidence?.type !== 'postcert_signature') throw new Error('the token response has no signature')
      await contracts.check(evidence)
      session.signature = evidence
    } catch (err) {
      if (err instanceof client.AuthorizationResponseError) return failure(ctx, 200, explain(err.error), err.error, err.error_description)
      log(`signature failed: ${(err as Error).message}`)
      return failure(ctx, 400, html`서명을 확인하지 못했습니다. 다시 서명해 주세요. <span lang="en">The signature could not be verified. Please sign again.</span>`)
    }
    ctx.redirect('/contract/signed')
  }

  const app = new Koa()
  app.use(async (ctx, next) => {
    ctx.set('Content-Security-Policy', csp)
    ctx.set('X-Content-Type-Options', 'nosniff')
    ctx.set('X-Frame-Options', 'DENY')
    // The callback URL carries the authorization code: no Referer to anyone.
    ctx.set('Referrer-Policy', 'no-referrer')
    ctx.set('Cache-Control', 'no-store')
    try {
      await next()
    } catch (err) {
      log(`error on ${ctx.method} ${ctx.path}: ${(err as Error).message}`)
      page(ctx, 500, errorPage({
        title: html`일시적인 오류 <span lang="en">Something went wrong</span>`,
        explanation: html`잠시 후 다시 시도해 주세요. <span lang="en">Please try again in a moment.</span>`,
      }))
    }
  })
  app.use(async (ctx) => {
    const method = ctx.method === 'HEAD' ? 'GET' : ctx.method
    const asset = method === 'GET' && ctx.path.startsWith('/static/') ? deps.assets.get(ctx.path.slice('/static/'.length)) : undefined
    if (asset) {
      ctx.set('Cache-Control', 'public, max-age=300')
      ctx.type = asset.type
      ctx.body = asset.body
      return
    }
    const route = routes[`${method} ${ctx.path}`]
    if (!route) {
      return page(ctx, 404, errorPage({
        title: html`페이지를 찾을 수 없습니다 <span lang="en">Page not found</span>`,
        explanation: html`주소를 확인해 주세요. <span lang="en">Please check the address.</span>`,
      }))
    }
    await route(ctx)
  })
  return app
}

/** What an error from PostCert means for the customer. */
function explain(error: string): SafeHtml {
  switch (error) {
    case 'access_denied':
      return html`로그인을 취소했거나 데모 은행에 인증서 등록을 거절했습니다.
<span lang="en">You cancelled, or declined to register your certificate with Demo Bank.</span>`
    case 'login_required':
    case 'interaction_required':
    case 'consent_required':
      return html`PostCert에서 다시 로그인해야 합니다. <span lang="en">You need to sign in at PostCert again.</span>`
    case 'unmet_authentication_requirements':
      return html`요청한 보안 등급을 주는 인증서가 없습니다. 제조사 인증이 확인된 기기의 패스키가 필요합니다.
<span lang="en">No certificate of yours gives the requested assurance level: a passkey on an attested device is needed.</span>`
    case 'temporarily_unavailable':
    case 'server_error':
      return html`PostCert를 잠시 사용할 수 없습니다. 잠시 후 다시 시도해 주세요.
<span lang="en">PostCert is unavailable for a moment. Please try again later.</span>`
    default:
      return html`데모 은행의 로그인 요청을 PostCert가 받아들이지 않았습니다.
<span lang="en">PostCert did not accept Demo Bank's sign-in request.</span>`
  }
}

/** An application/x-www-form-urlencoded body of at most FORM_LIMIT bytes, else undefined. */
async function readForm(ctx: Context): Promise<URLSearchParams | undefined> {
  if (!ctx.is('application/x-www-form-urlencoded')) return undefined
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length
    if (size > FORM_LIMIT) return undefined
    chunks.push(chunk as Buffer)
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
}
