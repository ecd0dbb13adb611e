import assert from 'node:assert/strict'
import request from 'supertest'
import type { TestServer } from '../helpers/server.ts'
import type { Holder, LoginHarness } from '../login/harness.ts'

/**
 * From /account to the certificate proof on PostCert's login page, as a browser goes: the
 * portal asks for a fresh login and never for a registration. Returns where the proof leads.
 */
export async function provePortalLogin(h: LoginHarness, server: TestServer, holder: Holder, browser = request.agent(server.url)) {
  const start = await browser.get('/account').expect(303)
  assert.match(start.headers.location!, /^\/auth\?client_id=postcert-account&.*prompt=login/)
  const location = (await browser.get(start.headers.location!).expect(303)).headers.location!
  assert.match(location, /^\/interaction\//, 'the login page, never a registration page')
  const page = await browser.get(location).expect(200)
  const { response } = await h.prove({ browser, uid: location.split('/').pop()!, csrf: page.text.match(/data-csrf="([^"]+)"/)![1]! } as never, holder)
  assert.equal(response.status, 200, response.text)
  return { browser, redirect: response.body.redirect as string }
}

/** Signs in to the portal with the certificate; returns the dashboard's HTML and its CSRF token. */
export async function signInToPortal(h: LoginHarness, server: TestServer, holder: Holder, browser = request.agent(server.url)) {
  const { redirect } = await provePortalLogin(h, server, holder, browser)
  let reached = await h.follow(browser, redirect)
  // Inside the renewal window the login shows its notice first; the subscriber goes on.
  if (reached.path?.endsWith('/expiring')) reached = await h.follow(browser, reached.page!.match(/href="(\/auth\/[^"]+)"/)![1]!)
  assert.equal(reached.path, '/account', 'back on the portal')
  return { browser, page: reached.page!, csrf: reached.page!.match(/name="csrf" value="([^"]+)"/)![1]! }
}
