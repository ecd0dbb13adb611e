import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { before, describe, it } from 'node:test'
import { CONSOLE } from '../../src/admin/auth.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { axeViolations } from '../helpers/axe.ts'
import { NEEDS_CHROMIUM } from '../helpers/browser.ts'
import { addVirtualAuthenticator } from '../helpers/browser-flows.ts'
import { browserSuite, BrowserRelyingParty } from '../helpers/browser-suite.ts'
import { ROOT } from '../helpers/process.ts'
import { lastCode, PERSON_1, PERSON_2 } from '../enrollment/helpers.ts'

/** Every page, at a phone's size and a desktop's, in each language: for a person to look at. */
const PAGES = path.join(ROOT, 'test-artifacts', 'screenshots', 'pages')
const VIEWPORTS = [{ width: 390, height: 844 }, { width: 1280, height: 800 }] as const
const PASSWORD = 'Daejeon-2026-safe!'
const CONTRACT = '# 전자금융거래 약정\n\n제1조 이 약정은 전자서명으로 체결합니다.'
const SIGNATURE = JSON.stringify([{
  type: 'postcert_signature',
  documents: [{ title: '전자금융거래 약정서', text: CONTRACT, text_format: 'markdown', sha256: createHash('sha256').update(CONTRACT).digest('base64url') }],
  transaction: { amount: '250000', currency: 'KRW', payee: '홍길동', account: '우체국 012-3456-7890' },
}])

/**
 * The whole journey in a real browser, once in Korean and once in English, stopping at every
 * page PostCert shows a citizen (#17): each is saved at 390×844 and 1280×800, and axe-core checks
 * it for WCAG 2.2 AA and its best practices: no violation at all, whatever its impact.
 * Certificates here are valid 31 days with a 30-day renewal window, so that two days on the
 * login shows the expiry notice and the portal offers renewal.
 */
describe('every page, on a phone and a desktop, in Korean and English, accessible', { skip: NEEDS_CHROMIUM }, () => {
  const clock = new ManualClock()
  const { server, browser } = browserSuite({ overrides: { clock }, env: { CERT_VALIDITY_DAYS: '31', RENEWAL_WINDOW_DAYS: '30', ADMIN_PORT: '0' } })
  let rp: BrowserRelyingParty
  before(async () => {
    fs.mkdirSync(PAGES, { recursive: true })
    rp = await BrowserRelyingParty.register(server, {
      name: '데모은행', scope: 'openid profile phone offline_access',
      metadata: { 'client_name#en': 'Demo Bank', 'postcert_purpose#ko': '예금 계좌 개설과 본인 확인', postcert_optional_scopes: 'phone' },
    })
  })

  for (const [lang, person, e164] of [['ko', PERSON_1, '+821000000001'], ['en', PERSON_2, '+821000000002']] as const) {
    it(`${lang}: every page is saved and passes axe-core`, async () => {
      const context = await browser.newContext({ viewport: VIEWPORTS[0], locale: lang === 'ko' ? 'ko-KR' : 'en-US' })
      const page = await context.newPage()
      await page.clock.setSystemTime(clock.now()) // the server's clock: the other language's run moved it on
      const problems: string[] = []
      const shown: string[] = []
      /** Saves the page as `name` at both sizes and runs axe-core on it; `view` is its template (views/pages), when named otherwise. */
      const capture = async (name: string, view = name) => {
        await page.locator('h1').first().waitFor()
        for (const viewport of VIEWPORTS) {
          await page.setViewportSize(viewport)
          await page.screenshot({ path: path.join(PAGES, `${name}-${lang}-${viewport.width}.png`), fullPage: true })
          for (const v of await axeViolations(page)) {
            problems.push(`${name} at ${viewport.width}px: ${v.id} (${v.impact}): ${v.help}: ${v.targets.join(', ')}`)
          }
        }
        await page.setViewportSize(VIEWPORTS[0])
        shown.push(view)
      }
      const click = (selector: string) => page.locator(selector).click()
      /** The login page with the certificate file of this browser; the expiry notice, if shown, passed. */
      const logIn = async () => {
        await page.waitForURL(/\/interaction\//)
        await page.locator('.choice-row').first().waitFor()
        await page.locator('#login-password').fill(PASSWORD)
        const loginPage = page.url()
        await click('#file-login-button')
        await page.waitForURL((u) => u.href !== loginPage)
      }

      await page.goto(`${server.issuer}/`)
      await capture('home')
      await page.goto(`${server.issuer}/enroll`)
      await capture('enroll-start')
      await click('form[action^="/enroll/start"] button')
      await page.waitForURL(/\/enroll\/phone/)
      await capture('enroll-phone')
      await page.locator('#phone').fill(person.phone)
      await click('form[action^="/enroll/phone/send"] button[type=submit]')
      await page.locator('#code').waitFor()
      await capture('enroll-phone-sent', 'enroll-phone')
      await page.locator('#code').fill(await lastCode(server, e164))
      await click('form[action^="/enroll/phone/verify"] button[type=submit]')
      await page.waitForURL(/\/enroll\/identity/)
      await click('form[action^="/enroll/identity"] button[type=submit]')
      await page.locator('.error-summary').waitFor()
      await capture('enroll-identity-errors', 'enroll-identity')
      await page.locator(`#document_type-${person.document_type}`).check()
      await page.locator('#name').fill(person.name)
      await page.locator('#birthdate').fill(person.birthdate)
      if (person.document_type === 'resident_card') {
        const [front, back] = person.number.split('-')
        await page.locator('#number_front').fill(front!)
        await page.locator('#number_back').fill(back!)
      } else {
        await page.locator('#number').fill(person.number)
      }
      await page.locator('#issue_date').fill(person.issue_date)
      await capture('enroll-identity')
      await click('form[action^="/enroll/identity"] button[type=submit]')
      await page.waitForURL(/\/enroll\/holder/)
      await capture('enroll-holder')
      await page.locator('#password').fill(PASSWORD)
      await page.locator('#password-confirm').fill(PASSWORD)
      await click('#file-form button[type=submit]')
      await page.waitForURL(/\/enroll\/done/, { timeout: 30_000 })
      await page.locator('#backup:not([hidden])').waitFor()
      await capture('enroll-done')
      await page.goto(`${server.issuer}/sandbox/sms`)
      await capture('sandbox-sms')

      // An institution: the login page, then the registration (consent).
      let started = await rp.start(page, { scope: 'openid profile phone offline_access' })
      await page.waitForURL(/\/interaction\//)
      await page.locator('.choice-row').first().waitFor()
      await capture('login', 'interaction')
      await logIn()
      await page.locator('#required-terms').waitFor()
      await capture('consent')
      await click('button[value=approve]')
      await rp.finish(page, started)

      // A signature: the login (password once), then the signing page.
      started = await rp.start(page, { authorization_details: SIGNATURE, prompt: 'login' })
      await logIn()
      await page.locator('#unlocked-notice').waitFor()
      await capture('sign')
      await click('#file-sign-button')
      await rp.finish(page, started)

      // Two days on, the certificate is in its renewal window: the login says so first.
      clock.advance(2 * 86_400)
      await page.clock.setSystemTime(clock.now())
      started = await rp.start(page, { prompt: 'login' })
      await logIn()
      await page.waitForURL(/\/expiring/)
      await capture('expiring')
      await click('a.button')
      await rp.finish(page, started)

      // The portal.
      const portal = async () => {
        await page.goto(`${server.issuer}/account`)
        if (new URL(page.url()).pathname === '/account') return // still signed in
        await logIn()
        if (page.url().includes('/expiring')) await click('a.button')
        await page.waitForURL((u) => u.pathname === '/account')
      }
      await portal()
      await capture('account')
      await click('#certificates tbody a')
      await page.locator('#technical').waitFor()
      await capture('account-certificate')
      const serial = new URL(page.url()).pathname.split('/').pop()!
      await page.goto(`${server.issuer}/account/activity`)
      await capture('account-activity')
      await page.goto(`${server.issuer}/account/certificates/${serial}/renew`)
      await capture('account-issue')
      await click(`form[action$="/renew/code"] button[type=submit]`)
      await page.locator('#code').waitFor()
      await capture('account-issue-sent', 'account-issue')
      await page.goto(`${server.issuer}/account`)
      await click('#account-logout')
      await capture('account-signed-out')
      await page.goto(`${server.issuer}/interaction/no-such-login`)
      await capture('error')
      // Logging out of PostCert itself (RP-initiated logout's confirmation), signed in again first.
      await portal()
      await page.goto(`${server.issuer}/session/end`)
      await capture('logout')
      await click('button[value=yes]')
      await page.locator('#logged-out').waitFor()
      await capture('logged-out')

      // Suspending the certificate of this sign-in: the page that says so (the sign-in ends with it).
      await portal()
      await page.goto(`${server.issuer}/account/certificates/${serial}`)
      await page.locator('#suspend-current').waitFor()
      await page.locator('form[action$="/suspend"] input[name=confirm]').check()
      await click('#suspend-certificate')
      await capture('account-certificate-changed')
      await server.ctx.authority.resume(serial)

      // The operator console, on the management listener: invitation, dashboard, every section, sign-in.
      const consoleUrl = server.ctx.adminOrigin!
      await addVirtualAuthenticator(page)
      await page.goto((await server.ctx.operators.invite(`ops.${lang}`, CONSOLE)).url)
      await capture('console-enroll')
      await click('#console-passkey')
      await page.waitForURL((u) => u.pathname === '/console')
      await page.locator('#chart-issued svg').waitFor()
      await capture('console-dashboard')
      await page.goto(`${consoleUrl}/console/certificates?status=good`)
      await capture('console-certificates')
      await page.goto(`${consoleUrl}/console/certificates/${serial}`)
      await capture('console-certificate')
      await server.ctx.adminDeps().approvals.request('revokeCertificates', { serials: [serial], reason: 'unspecified' }, { id: 'operator:someone.else', clientId: undefined })
      for (const section of ['approvals', 'clients', 'audit', 'operators']) {
        await page.goto(`${consoleUrl}/console/${section}`)
        await capture(`console-${section}`)
      }
      await click('.signout button')
      await page.waitForURL((u) => u.pathname === '/console/login')
      await capture('console-login')

      assert.deepEqual(problems, [], 'no accessibility violation, of any impact')
      const views = fs.readdirSync(path.join(ROOT, 'views', 'pages')).map((f) => f.replace(/\.hbs$/, ''))
      assert.deepEqual(views.filter((v) => !shown.includes(v)), [], 'every page template was shown')
      await context.close()
    })
  }
})
