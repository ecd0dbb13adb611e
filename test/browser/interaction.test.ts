import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import * as client from 'openid-client'
import { NEEDS_CHROMIUM } from '../helpers/browser.ts'
import { browserSuite, BrowserRelyingParty, onPhone } from '../helpers/browser-suite.ts'
import { tempDir } from '../helpers/server.ts'

/** The few DOM globals the page functions use (the project's types have no DOM lib). */
interface BrowserGlobals {
  getComputedStyle(el: unknown): { backgroundColor: string }
  document: { activeElement: { textContent: string | null } | null }
}

describe('the interaction page in a real browser', { skip: NEEDS_CHROMIUM }, () => {
  const { server, browser } = browserSuite({ hostname: '127.0.0.1' })
  let rp: BrowserRelyingParty
  before(async () => { rp = await BrowserRelyingParty.register(server, { name: '데모은행' }) })

  it('shows the page styled, on a phone, with no CSP violation, and returns with access_denied', async (t) => {
    const context = await onPhone(browser)
    const page = await context.newPage()
    const violations: string[] = []
    page.on('console', (msg) => { if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text()) })

    const started = await rp.start(page)
    assert.match(new URL(page.url()).pathname, /^\/interaction\//)
    assert.equal(await page.locator('h1').textContent(), '우체국 금융인증서 로그인')
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
      client.authorizationCodeGrant(rp.config, callback, { pkceCodeVerifier: started.verifier, expectedState: started.state }),
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
