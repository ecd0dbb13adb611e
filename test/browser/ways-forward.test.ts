import assert from 'node:assert/strict'
import path from 'node:path'
import { before, describe, it } from 'node:test'
import type { Page } from 'playwright-core'
import { NEEDS_CHROMIUM } from '../helpers/browser.ts'
import { KIM, LEE, submitIdentityInBrowser, type TestPerson } from '../helpers/browser-flows.ts'
import { browserSuite, BrowserRelyingParty, onPhone } from '../helpers/browser-suite.ts'
import { ROOT } from '../helpers/process.ts'
import { lastCode } from '../enrollment/helpers.ts'

const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots')
const PASSWORD = 'Mokpo-2026-harbour!'

/**
 * Where a citizen got stuck (#17), walked in a real browser: each place now has a way forward.
 */
describe('the dead ends a citizen met, each with a way forward, in a real browser', { skip: NEEDS_CHROMIUM }, () => {
  const { server, browser } = browserSuite({ screenshots: SHOTS })
  let rp: BrowserRelyingParty
  before(async () => { rp = await BrowserRelyingParty.register(server, { name: '길잡이은행', scope: 'openid profile' }) })

  /** The phone step from its first page: a code texted to `phone` and typed in. */
  async function verifyPhone(page: Page, person: TestPerson) {
    await page.getByLabel('휴대폰 번호').fill(person.phone)
    await page.getByRole('button', { name: /인증번호 (다시 )?받기/ }).click()
    await page.locator('#code').waitFor()
    await page.getByLabel('인증번호 6자리').fill(await lastCode(server, person.e164))
    await page.getByRole('button', { name: '확인' }).click()
    await page.waitForURL(/\/enroll\/identity/)
  }

  it('from the front door: a form error then the language switch keeps the step; a phone in another name leads out with 처음부터 다시', async () => {
    const context = await onPhone(browser)
    const page = await context.newPage()
    await page.goto(`${server.issuer}/`)
    await page.getByRole('link', { name: '인증서 발급받기' }).click()
    await page.waitForURL((u) => u.pathname === '/enroll')
    await page.getByRole('button', { name: '발급 시작' }).click()
    await page.waitForURL(/\/enroll\/phone/)

    // A number that is not a mobile: the error; then English shows the same step, not a 405.
    await page.getByLabel('휴대폰 번호').fill('02-123-4567')
    await page.getByRole('button', { name: '인증번호 받기' }).click()
    await page.locator('[role=alert]', { hasText: '휴대폰 번호 형식이 올바르지 않습니다' }).waitFor()
    await page.getByRole('link', { name: 'English' }).click()
    await page.waitForURL((u) => u.pathname === '/enroll/phone' && u.searchParams.get('ui_locales') === 'en')
    assert.equal(await page.locator('h1').textContent(), 'Verify your phone')
    await page.getByRole('link', { name: '한국어' }).click()
    await page.locator('h1', { hasText: '휴대폰 본인인증' }).waitFor()

    // Lee's phone with Kim's document: not verified, and no way on at this step for 15 minutes but out.
    await verifyPhone(page, LEE)
    await submitIdentityInBrowser(page, KIM)
    await page.locator('[role=alert]', { hasText: '본인을 확인하지 못했습니다' }).waitFor()
    await page.screenshot({ path: path.join(SHOTS, 'ways-identity-refused.png'), fullPage: true })
    await page.getByRole('button', { name: '처음부터 다시' }).click()
    await page.waitForURL((u) => u.pathname === '/enroll')
    await page.getByRole('button', { name: '발급 시작' }).click()
    await page.waitForURL(/\/enroll\/phone/)
    assert.equal(await page.getByLabel('휴대폰 번호').inputValue(), '', 'a new enrollment, nothing of the old one')
    await context.close()
  })

  it('a login page with no certificate in this browser leads to one and back to that login', async () => {
    const context = await onPhone(browser)
    const page = await context.newPage()
    const started = await rp.start(page, { scope: 'openid profile' })
    await page.waitForURL(/\/interaction\//)
    await page.locator('#no-certificates').getByRole('link', { name: '인증서 발급받기' }).click()
    await page.waitForURL((u) => u.pathname === '/enroll' && u.searchParams.has('from'))
    await page.getByRole('button', { name: '발급 시작' }).click()
    await page.waitForURL(/\/enroll\/phone/)
    await verifyPhone(page, KIM)
    await submitIdentityInBrowser(page, KIM)
    await page.waitForURL(/\/enroll\/holder/)
    await page.getByLabel('인증서 비밀번호', { exact: true }).fill(PASSWORD)
    await page.getByLabel('인증서 비밀번호 확인').fill(PASSWORD)
    await page.getByRole('button', { name: '인증서 파일로 발급' }).click()
    await page.waitForURL(/\/enroll\/done/, { timeout: 30_000 })
    await page.screenshot({ path: path.join(SHOTS, 'ways-done-back-to-login.png'), fullPage: true })
    await page.getByRole('link', { name: '길잡이은행 로그인으로 돌아가기' }).click()
    await page.waitForURL(/\/interaction\//)
    await page.locator('.choice-row').first().waitFor()
    await page.getByLabel('인증서 비밀번호').fill(PASSWORD)
    await page.getByRole('button', { name: '인증서 파일로 로그인' }).click()
    await page.getByRole('button', { name: '등록하고 계속' }).click()
    const tokens = await rp.finish(page, started)
    assert.ok(tokens.claims()!.sub, 'logged in at the institution that sent the citizen to get a certificate')
    await context.close()
  })
})
