import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { before, describe, it } from 'node:test'
import * as client from 'openid-client'
import type { Page } from 'playwright-core'
import { toPem } from '../../src/ca/x509.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { NEEDS_CHROMIUM } from '../helpers/browser.ts'
import { enrollInBrowser, KIM, LEE, proveIdentityInBrowser } from '../helpers/browser-flows.ts'
import { lastCode } from '../enrollment/helpers.ts'
import { openssl } from '../helpers/pki.ts'
import { ROOT } from '../helpers/process.ts'
import { browserSuite, BrowserRelyingParty, onPhone } from '../helpers/browser-suite.ts'
import { startTestServer, tempDir } from '../helpers/server.ts'

const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots')

/** What these tests read of a page's window (the tests are not compiled with the DOM's types). */
interface PageWindow {
  document: { documentElement: { scrollWidth: number }; querySelector: (selector: string) => unknown }
  getComputedStyle: (element: unknown, pseudo?: string) => { display: string; content: string }
}
const PASSWORD = 'Gwangju-2026-portal!'

describe('the subscriber portal in a real browser', { skip: NEEDS_CHROMIUM }, () => {
  const { server, browser } = browserSuite({ screenshots: SHOTS })
  let rp: BrowserRelyingParty
  before(async () => { rp = await BrowserRelyingParty.register(server, { name: '포털은행', scope: 'openid profile offline_access' }) })

  const logInWithFile = async (page: Page) => {
    await page.waitForURL(/\/interaction\//)
    await page.locator('#certificates label').first().waitFor()
    await page.getByLabel('인증서 비밀번호').fill(PASSWORD)
    await page.getByRole('button', { name: '인증서 파일로 로그인' }).click()
  }

  it('revokes an institution, whose refresh token then stops working; the activity lists the login there', async () => {
    const context = await onPhone(browser, { acceptDownloads: true })
    const page = await context.newPage()
    await enrollInBrowser(page, server, KIM, { password: PASSWORD })

    // The institution: a login with offline access, registering there.
    const started = await rp.start(page, { scope: 'openid offline_access', prompt: 'consent' })
    await logInWithFile(page)
    await page.getByRole('button', { name: '등록하고 계속' }).click()
    const tokens = await rp.finish(page, started)
    assert.ok(tokens.refresh_token)

    // The portal: the certificate again, no registration page.
    await page.goto(`${server.issuer}/account`)
    await logInWithFile(page)
    await page.waitForURL((u) => u.pathname === '/account')
    assert.match(await page.locator('#certificates tbody').textContent() ?? '', /인증서 파일[\s\S]*정상 · \d+일 남음/)
    const recent = await page.locator('#activity').textContent() ?? ''
    assert.match(recent, /로그인[\s\S]*포털은행/, 'the login at the institution')
    assert.match(recent, /우체국 금융인증서 내 정보/, 'and this one, named as the portal')
    await page.screenshot({ path: path.join(SHOTS, 'account-ko.png'), fullPage: true })
    // On a phone the tables are cards (#17): each row a block of labelled lines, nothing wider than the screen.
    const layout = await page.evaluate(() => {
      const w = globalThis as unknown as PageWindow
      const style = (selector: string, pseudo?: string) => w.getComputedStyle(w.document.querySelector(selector), pseudo)
      return {
        scrollWidth: w.document.documentElement.scrollWidth, row: style('#certificates tbody tr').display, head: style('#certificates thead').display,
        label: style('#certificates tbody td').display, before: style('#certificates tbody td', '::before').content, activityRow: style('#activity tbody tr').display,
      }
    })
    assert.ok(layout.scrollWidth <= 390, `no sideways scrolling (${layout.scrollWidth} px)`)
    assert.deepEqual({ row: layout.row, head: layout.head, cell: layout.label, activity: layout.activityRow }, { row: 'block', head: 'none', cell: 'block', activity: 'block' })
    assert.equal(layout.before, '"보관 방식"', 'each line says what it is')

    // The certificate file's backup again, from this browser's storage.
    await page.locator('#certificates tbody a').first().click()
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: '백업 파일 내려받기' }).click()])
    assert.match(fs.readFileSync((await download.path())!, 'utf8'), /-----BEGIN ENCRYPTED PRIVATE KEY-----[\s\S]+-----BEGIN CERTIFICATE-----/)
    await page.goto(`${server.issuer}/account`)

    await page.getByLabel('포털은행에 준 정보와 로그인 유지를 모두 거두는 데 동의합니다').check()
    await page.getByRole('button', { name: '포털은행 등록 해지' }).click()
    await page.locator('#revoked-notice').waitFor()
    assert.match(await page.locator('#revoked-notice').textContent() ?? '', /포털은행 등록을 해지했습니다/)
    assert.equal(await page.locator('#institutions').count(), 0, 'no institution left')
    await assert.rejects(client.refreshTokenGrant(rp.config, tokens.refresh_token!), (err: client.ResponseBodyError) => err.error === 'invalid_grant')

    await page.getByRole('link', { name: '이용 내역 전체 보기' }).click()
    await page.waitForURL((u) => u.pathname === '/account/activity')
    const activity = await page.locator('#activity').textContent() ?? ''
    assert.match(activity, /이용기관 등록 해지/)
    assert.match(activity, /로그인[\s\S]*포털은행[\s\S]*127\.0\.0\.x · Chrome on Linux/)

    // In English, as ui_locales asks.
    await page.goto(`${server.issuer}/account?ui_locales=en`)
    await page.locator('h1', { hasText: 'My certificates' }).waitFor()
    await page.screenshot({ path: path.join(SHOTS, 'account-en.png'), fullPage: true })
    // On a desktop the tables stay tables.
    await page.setViewportSize({ width: 1280, height: 800 })
    assert.equal(await page.evaluate(() => {
      const w = globalThis as unknown as PageWindow
      return w.getComputedStyle(w.document.querySelector('#certificates tbody tr')).display
    }), 'table-row')
    await context.close()
  })

  it('reports a lost certificate without having it (phone code and identity document again); OCSP then says revoked', async () => {
    const device = await onPhone(browser)
    const serial = await enrollInBrowser(await device.newPage(), server, LEE, { password: PASSWORD })
    await device.close()

    // Another browser, without the certificate: the journey proves phone and identity again.
    const context = await onPhone(browser)
    const page = await context.newPage()
    await proveIdentityInBrowser(page, server, LEE)
    const item = page.locator(`#manage li[data-serial="${serial}"]`)
    await item.getByLabel('기기 분실·도난 또는 비밀번호 유출').check()
    await item.getByLabel('폐기한 인증서는 다시 쓸 수 없음을 확인했습니다.').check()
    await item.getByRole('button', { name: '인증서 폐기' }).click()
    await page.locator('#changed').waitFor()
    assert.match(await page.locator('#changed').textContent() ?? '', /폐기/)
    await page.screenshot({ path: path.join(SHOTS, 'lost-reported-ko.png'), fullPage: true })
    await context.close()

    // What any relying party would ask: openssl's OCSP client against /pki/ocsp.
    const dir = tempDir('postcert-ocsp-')
    const file = (name: string) => path.join(dir, name)
    fs.writeFileSync(file('ca.pem'), await (await fetch(`${server.url}/pki/ca.pem`)).text())
    fs.writeFileSync(file('issuing.pem'), (await (await fetch(`${server.url}/pki/ca.pem`)).text()).split(/(?<=-----END CERTIFICATE-----\n)/)[0]!)
    // The subscriber's own copy (PostCert does not hand certificates out by serial).
    fs.writeFileSync(file('lost.pem'), toPem((await server.ctx.authority.find(serial))!.der, 'CERTIFICATE'))
    const answer = await openssl(['ocsp', '-issuer', file('issuing.pem'), '-CAfile', file('ca.pem'), '-url', `${server.url}/pki/ocsp`, '-cert', file('lost.pem')])
    assert.match(answer.output, /Response verify OK/)
    assert.match(answer.output, /lost\.pem: revoked/)
    assert.match(answer.output, /Reason: keyCompromise/)
  })

  it('renews inside the window (fixed clock) and logs in with the new certificate; the old one is refused', async () => {
    const clock = new ManualClock()
    const renewServer = await startTestServer({ hostname: 'localhost', overrides: { clock } })
    try {
      const renewRp = await BrowserRelyingParty.register(renewServer, { name: '갱신은행' })
      const context = await onPhone(browser)
      const page = await context.newPage()
      const oldSerial = await enrollInBrowser(page, renewServer, KIM, { password: PASSWORD })

      // 340 days later, inside the 30-day window: the server's clock and the browser's agree.
      clock.advance(340 * 86_400)
      await page.clock.setSystemTime(clock.now())
      await page.goto(`${renewServer.issuer}/account`)
      await logInWithFile(page)
      await page.getByRole('link', { name: '로그인 계속하기' }).click() // the notice of a certificate in its renewal window
      await page.waitForURL((u) => u.pathname === '/account')
      await page.locator(`tr[data-serial="${oldSerial}"] a`).click()
      await page.getByRole('link', { name: '인증서 갱신' }).click()
      await page.getByRole('button', { name: '인증번호 받기' }).click()
      await page.getByLabel('인증번호 6자리').fill(await lastCode(renewServer, KIM.e164))
      await page.getByRole('button', { name: '확인' }).click()
      await page.locator('#renew-phone-ok').waitFor()
      await page.getByLabel('인증서 비밀번호', { exact: true }).fill(PASSWORD)
      await page.getByLabel('인증서 비밀번호 확인').fill(PASSWORD)
      await page.getByRole('button', { name: '인증서 파일로 발급' }).click()
      await page.locator('#issued').waitFor({ timeout: 30_000 })
      const newSerial = new URL(page.url()).pathname.split('/').pop()!
      assert.notEqual(newSerial, oldSerial)
      await page.screenshot({ path: path.join(SHOTS, 'account-renewed-ko.png'), fullPage: true })
      // The portal offers to remove the file from this browser too (the same control as the done page's, #17).
      await page.locator('#browser-copy').getByRole('button', { name: /인증서를 이 브라우저에서 지우기/ }).waitFor()

      // At the institution: the new certificate logs in, the old one is refused.
      const loginWith = async (serial: string) => {
        const started = await renewRp.start(page, { prompt: 'login' })
        await page.waitForURL(/\/interaction\//)
        await page.locator('#certificates label', { hasText: `${serial.slice(0, 8)}…` }).click()
        await page.getByLabel('인증서 비밀번호').fill(PASSWORD)
        await page.getByRole('button', { name: '인증서 파일로 로그인' }).click()
        return started
      }
      const started = await loginWith(newSerial)
      await page.getByRole('button', { name: '등록하고 계속' }).click()
      const tokens = await renewRp.finish(page, started)
      assert.ok(tokens.claims()!.sub)
      // The old one is listed as revoked and cannot be chosen (the server refuses it too: test/login).
      await renewRp.start(page, { prompt: 'login' })
      await page.waitForURL(/\/interaction\//)
      const old = page.locator('.choice-row', { hasText: `${oldSerial.slice(0, 8)}…` })
      await old.locator('.badge', { hasText: '폐기됨' }).waitFor()
      assert.ok(await old.locator('input[type=radio]').isDisabled())
      await context.close()
    } finally {
      await renewServer.close()
    }
  })
})
