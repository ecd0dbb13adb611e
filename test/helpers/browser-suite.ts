import fs from 'node:fs'
import { after, before } from 'node:test'
import * as client from 'openid-client'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import type { NewClient } from '../../src/oidc/client-store.ts'
import { launchBrowser } from './browser.ts'
import { late } from './late.ts'
import { startTestServer, type TestServer } from './server.ts'

type StartOptions = NonNullable<Parameters<typeof startTestServer>[0]>

/**
 * The setup of the browser tests, in one line inside a describe(): a PostCert on localhost (a
 * domain, as WebAuthn needs) and headless Chromium (before), both closed after. `screenshots`
 * is made when given. Hooks the file adds after this line run once both are up.
 */
export function browserSuite(options: StartOptions & { screenshots?: string } = {}): { server: TestServer; browser: Browser } {
  let server: TestServer | undefined
  let browser: Browser | undefined
  before(async () => {
    const { screenshots, ...start } = options
    server = await startTestServer({ hostname: 'localhost', ...start })
    browser = await launchBrowser()
    if (screenshots) fs.mkdirSync(screenshots, { recursive: true })
  })
  after(async () => {
    await browser?.close()
    await server?.close()
  })
  return { server: late('server', () => server), browser: late('browser', () => browser) }
}

/** A browser context the size of a phone (390×844), Korean unless told otherwise. */
export async function onPhone(browser: Browser, options: Parameters<Browser['newContext']>[0] = {}): Promise<BrowserContext> {
  return await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'ko-KR', ...options })
}

/** What a started login needs at the callback. */
export interface StartedLogin {
  verifier: string
  state: string
  nonce: string
}

/**
 * An institution whose browser side is a real page: registered with PostCert by the operator,
 * its callback a path on PostCert's origin that answers 404 (enough to see where the browser
 * lands without a second site); it sends the page to the authorization endpoint with PKCE and
 * redeems the code the callback carries, with openid-client's checks.
 */
export class BrowserRelyingParty {
  readonly config: client.Configuration
  readonly redirectUri: string

  private constructor(config: client.Configuration, redirectUri: string) {
    this.config = config
    this.redirectUri = redirectUri
  }

  static async register(server: TestServer, input: Partial<NewClient> & { name: string }): Promise<BrowserRelyingParty> {
    const redirectUri = `${server.issuer}/rp/callback`
    const rp = await server.ctx.clients.add({ redirectUris: [redirectUri], ...input })
    const config = await client.discovery(new URL(server.issuer), rp.client_id, {}, client.ClientSecretBasic(String(rp.client_secret)), { execute: [client.allowInsecureRequests] })
    return new BrowserRelyingParty(config, redirectUri)
  }

  /** Sends the page to the authorization endpoint (scope openid unless `params` says otherwise). */
  async start(page: Page, params: Record<string, string> = {}): Promise<StartedLogin> {
    const started = { verifier: client.randomPKCECodeVerifier(), state: client.randomState(), nonce: client.randomNonce() }
    await page.goto(client.buildAuthorizationUrl(this.config, {
      redirect_uri: this.redirectUri, scope: 'openid', state: started.state, nonce: started.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(started.verifier), code_challenge_method: 'S256', ...params,
    }).href)
    return started
  }

  /** Waits for the page at the callback and redeems its code. */
  async finish(page: Page, started: StartedLogin) {
    await page.waitForURL((u) => u.pathname === '/rp/callback')
    return await client.authorizationCodeGrant(this.config, new URL(page.url()), { pkceCodeVerifier: started.verifier, expectedState: started.state, expectedNonce: started.nonce })
  }
}
