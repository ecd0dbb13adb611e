import type { Page } from 'playwright-core'
import { lastCode } from '../enrollment/helpers.ts'
import type { TestServer } from './server.ts'

export interface TestPerson {
  phone: string
  e164: string
  document: string
  name: string
  birthdate: string
  number: string
  issueDate: string
}

/** Enrolls through the pages (Korean), ending on the done page; returns the serial. */
/** Sandbox test persons (src/enrollment/identity/sandbox-persons.json) as the enrollment form takes them. */
export const KIM: TestPerson = { phone: '010-0000-0001', e164: '+821000000001', document: '주민등록증', name: '김우정', birthdate: '1990-01-15', number: '900115-1000001', issueDate: '2015-03-02' }
export const LEE: TestPerson = { phone: '010-0000-0002', e164: '+821000000002', document: '운전면허증', name: '이소포', birthdate: '1985-11-30', number: '12-00-000000-02', issueDate: '2016-02-11' }

export async function enrollInBrowser(page: Page, server: TestServer, person: TestPerson, holder: { passkey: true } | { password: string }): Promise<string> {
  await proveIdentityInBrowser(page, server, person)
  if ('passkey' in holder) {
    await page.getByRole('button', { name: '패스키로 발급' }).click()
  } else {
    await page.getByLabel('인증서 비밀번호', { exact: true }).fill(holder.password)
    await page.getByLabel('인증서 비밀번호 확인').fill(holder.password)
    await page.getByRole('button', { name: '인증서 파일로 발급' }).click()
  }
  await page.waitForURL(/\/enroll\/done/, { timeout: 30_000 })
  return (await page.locator('dl.facts code').textContent())!.trim()
}

/** The journey's first two steps (phone code, identity document), ending on the holder page. */
export async function proveIdentityInBrowser(page: Page, server: TestServer, person: TestPerson): Promise<void> {
  await page.goto(`${server.issuer}/enroll`)
  await page.getByRole('button', { name: '발급 시작' }).click()
  await page.getByLabel('휴대폰 번호').fill(person.phone)
  await page.getByRole('button', { name: /인증번호 (다시 )?받기/ }).click()
  await page.waitForSelector('#code')
  await page.getByLabel('인증번호 6자리').fill(await lastCode(server, person.e164))
  await page.getByRole('button', { name: '확인' }).click()
  await page.waitForURL(/\/enroll\/identity/)
  await submitIdentityInBrowser(page, person)
  await page.waitForURL(/\/enroll\/holder/)
}

/** The identity step's form filled with `person`'s document (a resident number in its two boxes) and sent. */
export async function submitIdentityInBrowser(page: Page, person: TestPerson): Promise<void> {
  await page.getByLabel(person.document).check()
  await page.getByLabel('이름').fill(person.name)
  await page.getByLabel('생년월일').fill(person.birthdate)
  if (person.document === '주민등록증') {
    const [front, back] = person.number.split('-')
    await page.getByLabel('앞 6자리').fill(front!)
    await page.getByLabel('뒤 7자리').fill(back!)
  } else {
    await page.getByLabel('신분증 번호').fill(person.number)
  }
  await page.getByLabel('발급일자').fill(person.issueDate)
  await page.getByRole('button', { name: '신분증 확인' }).click()
}

/** Adds a platform passkey authenticator (user-verifying) to the page's browser. */
export async function addVirtualAuthenticator(page: Page): Promise<void> {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('WebAuthn.enable')
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  })
}
