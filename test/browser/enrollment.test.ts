import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Browser, Page } from 'playwright-core'
import { launchBrowser, NEEDS_CHROMIUM } from '../helpers/browser.ts'
import { openssl } from '../helpers/pki.ts'
import { ROOT } from '../helpers/process.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { lastCode, PERSON_1, PERSON_2 } from '../enrollment/helpers.ts'
import { POLICY_OIDS } from '../../src/ca/constants.ts'
import { toPem } from '../../src/ca/x509.ts'
import { onPhone } from '../helpers/browser-suite.ts'

/** Screenshots of every step go here (ignored by git) for a person to look at. */
const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots')

describe('enrollment in a real browser with a certificate file', { skip: NEEDS_CHROMIUM }, () => {
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

  it('counts down the code\'s three minutes and the resend\'s minute, live (#17)', async () => {
    const context = await onPhone(browser, { locale: 'ko-KR' })
    const page = await context.newPage()
    await page.clock.install()
    await page.goto(`${server.url}/enroll`)
    await page.getByRole('button', { name: '발급 시작' }).click()
    await page.getByLabel('휴대폰 번호').fill('010-5555-0102')
    await page.getByRole('button', { name: '인증번호 받기' }).click()
    await page.waitForSelector('#code')
    const timer = page.locator('#code-timer')
    const resend = page.getByRole('button', { name: '인증번호 다시 받기' })
    const resendHint = page.locator('#resend-timer')
    assert.match(await timer.textContent() ?? '', /^남은 시간 (3:00|2:5\d) \(\d\d:\d\d까지\)$/)
    assert.equal(await resend.getAttribute('aria-disabled'), 'true')
    assert.match(await resendHint.textContent() ?? '', /^(60|5\d)초 후에 다시 받을 수 있습니다\.$/)
    await page.screenshot({ path: path.join(SHOTS, 'enroll-ko-1-phone-countdown.png'), fullPage: true })
    // A click while the minute runs sends nothing: the server would refuse it anyway.
    await resend.click({ force: true }) // Playwright would wait for an aria-disabled button to be enabled
    await page.waitForTimeout(500) // time for a post to leave, were it sent
    assert.equal(page.url().endsWith('/enroll/phone'), true)
    assert.equal(await page.locator('[role=alert]:visible').count(), 0, 'no error page, no refusal')

    await page.clock.runFor(61_000)
    assert.equal(await resend.getAttribute('aria-disabled'), null, 'after a minute another code may be asked for')
    assert.equal(await resendHint.textContent(), '')
    assert.match(await timer.textContent() ?? '', /^남은 시간 1:5\d /)
    assert.ok(await page.locator('#code-expired').isHidden())

    await page.clock.runFor(120_000)
    await page.locator('#code-expired').waitFor({ state: 'visible' })
    assert.equal(await timer.textContent(), '')
    await page.screenshot({ path: path.join(SHOTS, 'enroll-ko-1-phone-expired.png'), fullPage: true })
    await context.close()
  })

  for (const lang of ['ko', 'en'] as const) {
    it(`a subscriber gets a certificate file on a phone, and its backup opens with openssl (${lang})`, async () => {
      const context = await onPhone(browser, { locale: lang === 'ko' ? 'ko-KR' : 'en-US' })
      const page = await context.newPage()
      const violations: string[] = []
      page.on('console', (msg) => { if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text()) })
      const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `enroll-${lang}-${name}.png`), fullPage: true })
      const t = (ko: string, en: string) => (lang === 'ko' ? ko : en)

      await page.goto(`${server.url}/enroll`)
      await shot('0-start')
      await page.getByRole('button', { name: t('발급 시작', 'Start') }).click()

      await page.waitForURL(/\/enroll\/phone/)
      assert.equal(await focusedId(page, 'phone'), 'phone', 'the phone field has focus')
      await page.getByLabel(t('휴대폰 번호', 'Mobile number')).fill(PERSON_1.phone)
      await shot('1-phone')
      await page.getByRole('button', { name: t('인증번호 받기', 'Send code') }).click()
      await page.waitForSelector('#code')
      assert.equal(await focusedId(page, 'code'), 'code', 'after sending, the code field has focus')
      await page.getByLabel(t('인증번호 6자리', '6-digit code')).fill('000000' === await lastCode(server, '+821000000001') ? '111111' : '000000')
      await page.getByRole('button', { name: t('확인', 'Verify') }).click()
      await page.waitForSelector('[role=alert]')
      await shot('1-phone-wrong-code')
      await page.getByLabel(t('인증번호 6자리', '6-digit code')).fill(await lastCode(server, '+821000000001'))
      await page.getByRole('button', { name: t('확인', 'Verify') }).click()

      await page.waitForURL(/\/enroll\/identity/)
      // A resident card's number is two boxes, the back one masked; another document's is one field.
      await page.getByLabel(t('운전면허증', 'Driver licence')).check()
      assert.ok(await page.locator('#number').isVisible() && await page.locator('#number_front').isHidden(), 'a licence: one number field')
      await page.getByLabel(t('주민등록증', 'Resident registration card')).check()
      assert.ok(await page.locator('#number').isHidden() && await page.locator('#number_back').isVisible(), 'a resident card: the two boxes')
      assert.equal(await page.locator('#number_back').getAttribute('type'), 'password')
      // Three mistakes at once: all three are shown, each under its field, and the first has the focus.
      await page.getByLabel(t('생년월일', 'Date of birth')).fill(PERSON_1.birthdate)
      await page.getByLabel(t('앞 6자리', 'First 6 digits')).fill('9001')
      await page.getByRole('button', { name: t('신분증 확인', 'Check document') }).click()
      await page.waitForSelector('.error-summary')
      assert.equal(await page.locator('.error-summary li').count(), 3, 'name, number, date of issue')
      assert.equal(await page.locator('.field-error:visible').count(), 3)
      assert.equal(await focusedId(page, 'name'), 'name')
      await shot('2-identity-errors')
      await page.getByLabel(t('이름', 'Name')).fill(PERSON_1.name)
      const [front, back] = PERSON_1.number.split('-')
      await page.getByLabel(t('앞 6자리', 'First 6 digits')).fill(front!)
      await page.getByLabel(t('뒤 7자리', 'Last 7 digits')).fill(back!)
      await page.getByLabel(t('발급일자', 'Date of issue')).fill(PERSON_1.issue_date)
      await shot('2-identity')
      await page.getByRole('button', { name: t('신분증 확인', 'Check document') }).click()

      await page.waitForURL(/\/enroll\/holder/)
      assert.match(await page.locator('p[role=status]').first().textContent() ?? '', new RegExp(PERSON_1.name))
      await shot('3-holder-choose')
      await page.getByLabel(t('인증서 비밀번호', 'Certificate password'), { exact: true }).fill('abc123')
      assert.match(await page.locator('#strength').textContent() ?? '', new RegExp(t('약함', 'Weak')))
      await page.getByLabel(t('인증서 비밀번호 확인', 'Confirm the certificate password')).fill('abc123')
      await page.getByRole('button', { name: t('인증서 파일로 발급', 'Issue to a certificate file') }).click()
      assert.match(await page.locator('#holder-error').textContent() ?? '', new RegExp(t('10자 이상', 'at least 10')))
      await shot('3-holder-weak-password')
      const PASSWORD = 'Daejeon-2026-safe!'
      await page.getByLabel(t('인증서 비밀번호', 'Certificate password'), { exact: true }).fill(PASSWORD)
      assert.match(await page.locator('#strength').textContent() ?? '', new RegExp(t('강함', 'Strong')))
      await page.getByLabel(t('인증서 비밀번호 확인', 'Confirm the certificate password')).fill(PASSWORD)
      await shot('3-holder')
      await page.getByRole('button', { name: t('인증서 파일로 발급', 'Issue to a certificate file') }).click()

      await page.waitForURL(/\/enroll\/done/, { timeout: 30_000 })
      const serial = (await page.locator('dl.facts code').textContent())!.trim()
      assert.match(serial, /^[0-9a-f]{31,32}$/)
      const backupButton = page.getByRole('button', { name: t('백업 파일 내려받기', 'Download backup') })
      await backupButton.waitFor()
      await shot('4-done')
      const [download] = await Promise.all([page.waitForEvent('download'), backupButton.click()])
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postcert-backup-'))
      const backup = path.join(dir, download.suggestedFilename())
      await download.saveAs(backup)
      assert.equal(path.basename(backup), `postcert-${serial}.pem`)

      // The certificate in the backup verifies against the published chain...
      const pems = fs.readFileSync(backup, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g)!
      fs.writeFileSync(path.join(dir, 'cert.pem'), pems[0]!)
      fs.writeFileSync(path.join(dir, 'ca.pem'), await (await fetch(`${server.url}/pki/ca.pem`)).text())
      const verified = await openssl(['verify', '-CAfile', path.join(dir, 'ca.pem'), path.join(dir, 'cert.pem')])
      assert.equal(verified.code, 0, verified.output)
      // ...and its key opens with the password only.
      assert.equal((await openssl(['pkey', '-in', backup, '-passin', `pass:${PASSWORD}`, '-noout'])).code, 0)
      assert.notEqual((await openssl(['pkey', '-in', backup, '-passin', 'pass:not-the-password-1', '-noout'])).code, 0)
      // The key in the backup is the one certified.
      const keyPub = await openssl(['pkey', '-in', backup, '-passin', `pass:${PASSWORD}`, '-pubout'])
      const certPub = await openssl(['x509', '-in', path.join(dir, 'cert.pem'), '-noout', '-pubkey'])
      assert.equal(keyPub.output, certPub.output)
      const record = await server.ctx.authority.find(serial)
      assert.equal(record?.holder, 'file')

      // On a shared PC: removed from this browser after a confirmation; the certificate itself stays good (#17).
      await page.getByRole('button', { name: t('인증서를 이 브라우저에서 지우기', 'from this browser') }).click()
      await page.getByRole('button', { name: t('지우기', 'Remove'), exact: true }).click()
      await page.locator('#browser-copy-status', { hasText: t('지웠습니다', 'was removed') }).waitFor()
      assert.ok(await backupButton.isHidden(), 'no backup of a file that is gone')
      await page.reload()
      await page.locator('#backup-missing').waitFor() // the page's script reads the store after the load: the file is gone from it
      assert.equal((await server.ctx.authority.find(serial))!.status, 'good')
      assert.deepEqual(violations, [])
      await context.close()
    })
  }
})

describe('enrollment in a real browser with a passkey', { skip: NEEDS_CHROMIUM }, () => {
  let server: TestServer
  let browser: Browser
  before(async () => {
    server = await startTestServer({ hostname: 'localhost' })
    browser = await launchBrowser()
    fs.mkdirSync(SHOTS, { recursive: true })
  })
  after(async () => {
    await browser?.close()
    await server?.close()
  })

  it('a subscriber gets a certificate bound to a new passkey (virtual authenticator)', async () => {
    const context = await onPhone(browser)
    const page = await context.newPage()
    const cdp = await context.newCDPSession(page)
    await cdp.send('WebAuthn.enable')
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
    })
    const base = server.issuer
    await page.goto(`${base}/enroll`)
    await page.getByRole('button', { name: '발급 시작' }).click()
    await page.getByLabel('휴대폰 번호').fill(PERSON_2.phone)
    await page.getByRole('button', { name: '인증번호 받기' }).click()
    await page.waitForSelector('#code')
    await page.getByLabel('인증번호 6자리').fill(await lastCode(server, '+821000000002'))
    await page.getByRole('button', { name: '확인' }).click()
    await page.waitForURL(/\/enroll\/identity/)
    await page.getByLabel('운전면허증').check()
    await page.getByLabel('이름').fill(PERSON_2.name)
    await page.getByLabel('생년월일').fill(PERSON_2.birthdate)
    await page.getByLabel('신분증 번호').fill(PERSON_2.number)
    await page.getByLabel('발급일자').fill(PERSON_2.issue_date)
    await page.getByRole('button', { name: '신분증 확인' }).click()
    await page.waitForURL(/\/enroll\/holder/)
    await page.getByRole('button', { name: '패스키로 발급' }).click()
    await page.waitForURL(/\/enroll\/done/, { timeout: 30_000 })
    await page.screenshot({ path: path.join(SHOTS, 'enroll-ko-4-done-passkey.png'), fullPage: true })
    assert.match(await page.locator('dl.facts').textContent() ?? '', /패스키/)
    const serial = (await page.locator('dl.facts code').textContent())!.trim()

    const record = (await server.ctx.authority.find(serial))!
    assert.equal(record.holder, 'passkey')
    const credential = await server.ctx.db.selectFrom('webauthn_credential').selectAll().where('certificate_serial', '=', serial).executeTakeFirstOrThrow()
    assert.equal(credential.subscriber_id, record.subscriberId)

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postcert-passkey-'))
    fs.writeFileSync(path.join(dir, 'cert.pem'), toPem((await server.ctx.authority.find(serial))!.der, 'CERTIFICATE'))
    fs.writeFileSync(path.join(dir, 'ca.pem'), await (await fetch(`${base}/pki/ca.pem`)).text())
    const verified = await openssl(['verify', '-CAfile', path.join(dir, 'ca.pem'), path.join(dir, 'cert.pem')])
    assert.equal(verified.code, 0, verified.output)
    const text = await openssl(['x509', '-in', path.join(dir, 'cert.pem'), '-noout', '-text'])
    // Chromium's virtual authenticator attests with its own self-issued batch certificate, which
    // chains to no root PostCert trusts: a passkey, but not hardware-bound as far as PostCert knows.
    assert.ok(text.output.includes(`Policy: ${POLICY_OIDS.passkeyUnattested}`), 'the policy of a passkey whose device was not attested')
    assert.deepEqual([credential.attestation_format, credential.attested], ['packed', false])
    await context.close()
  })
})

/** The focused element's id, once `expected` has focus or after 5 s (autofocus lands after load, later on a busy machine). */
async function focusedId(page: Page, expected?: string): Promise<string | undefined> {
  const read = () => (globalThis as unknown as { document: { activeElement: { id?: string } | null } }).document.activeElement?.id
  if (expected) await page.waitForFunction((id) => (globalThis as unknown as { document: { activeElement: { id?: string } | null } }).document.activeElement?.id === id, expected, { timeout: 5000 }).catch(() => {})
  return await page.evaluate(read)
}
