import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { describe, it } from 'node:test'
import { CONSOLE } from '../../src/admin/auth.ts'
import { toPem } from '../../src/ca/x509.ts'
import { axeViolations } from '../helpers/axe.ts'
import { NEEDS_CHROMIUM } from '../helpers/browser.ts'
import { addVirtualAuthenticator } from '../helpers/browser-flows.ts'
import { browserSuite } from '../helpers/browser-suite.ts'
import { issueCertificate, openssl } from '../helpers/pki.ts'
import { ROOT } from '../helpers/process.ts'
import { tempDir } from '../helpers/server.ts'

const SHOTS = path.join(ROOT, 'test-artifacts', 'screenshots')

/**
 * The operator console in Chromium, as an operator uses it: the invitation link from the server's
 * CLI registers a passkey (a virtual authenticator), the passkey signs in again after signing out,
 * the dashboard draws its charts, and a certificate found by its serial is revoked, which the
 * public OCSP responder then says (checked with openssl).
 */
describe('the operator console in a real browser', { skip: NEEDS_CHROMIUM }, () => {
  const { server, browser } = browserSuite({ env: { ADMIN_PORT: '0' }, screenshots: SHOTS })

  it('registers a passkey from the invitation, signs in with it, charts the days, and revokes a certificate that OCSP then reports revoked', async () => {
    const { certificate } = await issueCertificate(server.ctx.authority, { displayName: '김우정' })
    const invited = await server.ctx.operators.invite('kim.ops', CONSOLE)
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'ko-KR' })
    const page = await context.newPage()
    await addVirtualAuthenticator(page)

    // The invitation: one button, the passkey made, the dashboard.
    await page.goto(invited.url)
    assert.equal(new URL(page.url()).hash, '', 'the invitation token leaves the address bar')
    await page.getByRole('button', { name: '패스키 등록' }).click()
    await page.waitForURL((u) => u.pathname === '/console')
    assert.equal(await page.locator('#console-operator').textContent(), 'kim.ops')

    // Signing out, then in again with the same passkey (discoverable: the page names nobody).
    await page.getByRole('button', { name: '로그아웃' }).click()
    await page.waitForURL((u) => u.pathname === '/console/login')
    await page.getByRole('button', { name: '패스키로 로그인' }).click()
    await page.waitForURL((u) => u.pathname === '/console')

    // The dashboard: the issuance of today in its chart, with its value and an accessible name.
    const issued = page.locator('#chart-issued svg')
    assert.equal(await issued.getAttribute('role'), 'img')
    const bar = issued.locator('rect[data-series]')
    assert.equal(await bar.count(), 1)
    assert.equal(await bar.getAttribute('data-value'), '1')
    assert.equal(await bar.getAttribute('data-series'), '신규')
    assert.ok(Number(await bar.getAttribute('height')) > 0)
    assert.match(await issued.locator('desc').textContent() ?? '', /신규: 1/)
    assert.equal(await page.locator('#chart-logins svg rect[data-series]').count(), 0, 'no login yet')
    assert.deepEqual(await axeViolations(page), [])
    await page.screenshot({ path: path.join(SHOTS, 'console-dashboard-ko.png'), fullPage: true })

    // The certificate, found by its serial (as the subscriber reads it out, with colons), and revoked.
    await page.getByRole('link', { name: '인증서', exact: true }).click()
    await page.getByLabel('일련번호').fill(certificate.serial.match(/.{1,2}/g)!.join(':'))
    await page.getByRole('button', { name: '검색' }).click()
    await page.waitForURL((u) => u.pathname === `/console/certificates/${certificate.serial}`)
    assert.equal(await page.locator('#certificate-status').getAttribute('data-status'), 'good')
    assert.equal((await page.locator('#certificate-status').textContent())?.trim(), '유효')
    assert.deepEqual(await axeViolations(page), [])
    await page.getByLabel('사유').selectOption('keyCompromise')
    // Without the confirmation the revocation is not made.
    await page.locator('#revoke').click()
    assert.match(await page.locator('#console-error').textContent() ?? '', /확인란/)
    assert.equal((await server.ctx.authority.find(certificate.serial))!.status, 'good')
    await page.getByLabel('사유').selectOption('keyCompromise')
    await page.locator('#revoke-confirm').check()
    await page.locator('#revoke').click()
    await page.locator('#console-done').waitFor()
    assert.equal((await page.locator('#certificate-status').textContent())?.trim(), '폐지')
    await page.screenshot({ path: path.join(SHOTS, 'console-certificate-revoked-ko.png'), fullPage: true })

    // The public OCSP responder says so, as any relying party would ask it.
    const dir = tempDir('postcert-console-ocsp-')
    const file = (name: string) => path.join(dir, name)
    const chain = await (await fetch(`${server.url}/pki/ca.pem`)).text()
    const [issuing, root] = chain.split(/(?<=-----END CERTIFICATE-----\n)/)
    fs.writeFileSync(file('issuing.pem'), issuing!)
    fs.writeFileSync(file('root.pem'), root!)
    fs.writeFileSync(file('subscriber.pem'), toPem(certificate.der, 'CERTIFICATE'))
    const ocsp = await openssl(['ocsp', '-issuer', file('issuing.pem'), '-cert', file('subscriber.pem'), '-url', `${server.url}/pki/ocsp`, '-CAfile', file('root.pem'), '-verify_other', file('issuing.pem')])
    assert.match(ocsp.output, /Response verify OK/, ocsp.output)
    assert.match(ocsp.output, /subscriber\.pem: revoked/, ocsp.output)
    assert.match(ocsp.output, /Reason: keyCompromise/, ocsp.output)

    // The audit log names the operator; the dashboard now charts the revocation.
    await page.getByRole('link', { name: '감사 기록', exact: true }).click()
    const revoked = page.locator('#events tr[data-type="certificate.revoked"]')
    assert.match(await revoked.textContent() ?? '', /operator:kim\.ops/)
    await page.goto(`${server.ctx.adminOrigin!}/console?ui_locales=en`)
    assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Dashboard')
    assert.equal(await page.locator('#chart-status svg rect[data-series]').getAttribute('data-value'), '1')
    await page.screenshot({ path: path.join(SHOTS, 'console-dashboard-en.png'), fullPage: true })
    await context.close()
  })
})
