import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { launchBrowser, NEEDS_CHROMIUM } from '../helpers/browser.ts'
import { ROOT } from '../helpers/process.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { lastCode, PERSON_1 } from '../enrollment/helpers.ts'

/** Screenshots of every step go here (ignored by git) for a person to look at. */
const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots')

describe('enrollment in a real browser (phone and identity steps)', { skip: NEEDS_CHROMIUM }, () => {
  let server: TestServer
  let browser: Browser
  before(async () => {
    server = await startTestServer()
    browser = await launchBrowser()
    fs.mkdirSync(SHOTS, { recursive: true })
  })
  after(async () => {
    await browser?.close()
    await server?.close()
  })

  for (const lang of ['ko', 'en'] as const) {
    it(`a subscriber reaches the holder step on a phone (${lang})`, async () => {
      const context = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: lang === 'ko' ? 'ko-KR' : 'en-US' })
      const page = await context.newPage()
      const violations: string[] = []
      page.on('console', (msg) => { if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text()) })
      const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `enroll-${lang}-${name}.png`), fullPage: true })
      const t = (ko: string, en: string) => (lang === 'ko' ? ko : en)

      await page.goto(`${server.url}/enroll`)
      await shot('0-start')
      await page.getByRole('button', { name: t('발급 시작', 'Start') }).click()

      await page.waitForURL(/\/enroll\/phone/)
      assert.equal(await focusedId(page), 'phone', 'the phone field has focus')
      await page.getByLabel(t('휴대폰 번호', 'Mobile number')).fill(PERSON_1.phone)
      await shot('1-phone')
      await page.getByRole('button', { name: t('인증번호 받기', 'Send code') }).click()
      await page.waitForSelector('#code')
      assert.equal(await focusedId(page), 'code', 'after sending, the code field has focus')
      await page.getByLabel(t('인증번호 6자리', '6-digit code')).fill('000000' === await lastCode(server, '+821000000001') ? '111111' : '000000')
      await page.getByRole('button', { name: t('확인', 'Verify') }).click()
      await page.waitForSelector('[role=alert]')
      await shot('1-phone-wrong-code')
      await page.getByLabel(t('인증번호 6자리', '6-digit code')).fill(await lastCode(server, '+821000000001'))
      await page.getByRole('button', { name: t('확인', 'Verify') }).click()

      await page.waitForURL(/\/enroll\/identity/)
      await page.getByLabel(t('주민등록증', 'Resident registration card')).check()
      await page.getByLabel(t('이름', 'Name')).fill(PERSON_1.name)
      await page.getByLabel(t('생년월일', 'Date of birth')).fill(PERSON_1.birthdate)
      await page.getByLabel(t('신분증 번호', 'Document number')).fill(PERSON_1.number)
      await page.getByLabel(t('발급일자', 'Date of issue')).fill(PERSON_1.issue_date)
      await shot('2-identity')
      await page.getByRole('button', { name: t('신분증 확인', 'Check document') }).click()

      await page.waitForURL(/\/enroll\/holder/)
      assert.match(await page.locator('[role=status]').textContent() ?? '', new RegExp(PERSON_1.name))
      await shot('3-holder')
      assert.deepEqual(violations, [])
      await context.close()
    })
  }
})

async function focusedId(page: Page): Promise<string | undefined> {
  return await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id?: string } | null } }).document.activeElement?.id)
}
