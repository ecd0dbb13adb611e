import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as client from 'openid-client'
import type { Browser } from 'playwright-core'
import { launchBrowser, NEEDS_CHROMIUM } from '../helpers/browser.ts'
import { startTestServer, tempDir, type TestServer } from '../helpers/server.ts'

/** The few DOM globals the page functions use (the project's types have no DOM lib). */
interface BrowserGlobals {
  getComputedStyle(el: unknown): { backgroundColor: string }
  document: { activeElement: { textContent: string | null } | null }
}

describe('the interaction page in a real browser', { skip: NEEDS_CHROMIUM }, () => {
  let server: TestServer
  let browser: Browser
  let config: client.Configuration
  let redirectUri: string

  before(async () => {
    server = await startTestServer()
    // The relying party's callback is a path on PostCert's origin that answers 404: enough to see
    // where the browser lands without running a second site.
    redirectUri = `${server.url}/rp/callback`
    const store = server.ctx.clients
    const rp = await store.add({ name: '데모은행', redirectUris: [redirectUri] })
    config = await client.discovery(new URL(server.issuer), rp.client_id, {}, client.ClientSecretBasic(String(rp.client_secret)), { execute: [client.allowInsecureRequests] })
    browser = await launchBrowser()
  })
  after(async () => {
    await browser?.close()
    await server?.close()
  })

  it('shows the page styled, on a phone, with no CSP violation, and returns with access_denied', async (t) => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'ko-KR' })
    const page = await context.newPage()
    const violations: string[] = []
    page.on('console', (msg) => { if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text()) })

    const verifier = client.randomPKCECodeVerifier()
    const state = client.randomState()
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri, scope: 'openid', state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    })
    await page.goto(url.href)
    assert.match(new URL(page.url()).pathname, /^\/interaction\//)
    assert.equal(await page.locator('h1').textContent(), '우체국 인증서로 로그인')
    // The login script ran (CSP allows it) and found no certificate file in this fresh browser.
    await page.locator('#no-certificates').waitFor()
    assert.match(await page.locator('#no-certificates').textContent() ?? '', /저장된 인증서 파일이 없습니다/)

    // The stylesheet applied (CSP allows it): the main action carries the brand colour and fits the phone.
    const passkey = page.getByRole('button', { name: '패스키로 로그인' })
    assert.equal(await passkey.evaluate((el) => (globalThis as unknown as BrowserGlobals).getComputedStyle(el).backgroundColor), 'rgb(179, 0, 27)')
    const box = (await passkey.boundingBox())!
    assert.ok(box.width <= 390 && box.height >= 44, 'a full-width, thumb-sized button')
    // Keyboard users land on the first action.
    assert.equal(await page.evaluate(() => (globalThis as unknown as BrowserGlobals).document.activeElement?.textContent?.trim()), '패스키로 로그인')
    const button = page.getByRole('button', { name: '취소하고 기관으로 돌아가기' })
    const shot = `${tempDir('postcert-shot-')}/interaction.png`
    await page.screenshot({ path: shot, fullPage: true })
    t.diagnostic(`screenshot: ${shot}`)

    await button.click()
    await page.waitForURL((u) => u.pathname === '/rp/callback')
    const callback = new URL(page.url())
    assert.equal(callback.searchParams.get('error'), 'access_denied')
    await assert.rejects(
      client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state }),
      (err: client.AuthorizationResponseError) => err.error === 'access_denied',
    )
    assert.deepEqual(violations, [])
    await context.close()
  })

  it("runs oidc-provider's logout auto-submit under the CSP and lands on the Korean confirmation", async () => {
    const context = await browser.newContext({ locale: 'ko-KR' })
    const page = await context.newPage()
    const violations: string[] = []
    page.on('console', (msg) => { if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text()) })
    await page.goto(`${server.url}/session/end`)
    await page.waitForURL((u) => u.pathname === '/session/end/success')
    assert.equal(await page.locator('h1').textContent(), '로그아웃되었습니다')
    assert.deepEqual(violations, [])
    await context.close()
  })
})
