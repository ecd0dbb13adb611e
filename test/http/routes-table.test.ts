import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import request from 'supertest'
import { cache, noStore, revalidate, slot, type Step } from '../../src/http/guards.ts'
import { Router } from '../../src/http/router.ts'
import { buildRouter } from '../../src/routes.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

describe('routes as tables of guards', () => {
  it('a route must declare exactly one cache policy', () => {
    const router = new Router()
    const handler: Step = (ctx) => { ctx.body = 'ok' }
    assert.throws(() => router.add('GET', '/a', 'a', handler), /must declare exactly one cache policy/)
    assert.throws(() => router.add('GET', '/b', 'b', noStore, revalidate, handler), /must declare exactly one cache policy/)
    router.add('GET', '/c', 'c', cache('public, max-age=60'), handler)
    assert.deepEqual(router.table(), [{ method: 'GET', path: '/c', name: 'c', cache: 'public, max-age=60' }])
  })

  it('matches a request among the routes of its first path segment, and routes that start with a parameter everywhere', async () => {
    const router = new Router()
      .add('GET', '/', 'home', noStore, (ctx) => { ctx.body = 'home' })
      .add('GET', '/pki/certificates/:serial', 'pki', noStore, (ctx, { serial = '' }) => { ctx.body = `pki ${serial}` })
      .add('POST', '/pki/ocsp', 'ocsp', noStore, (ctx) => { ctx.body = 'ocsp' })
      .add('GET', '/:tenant/profile', 'tenant', noStore, (ctx, { tenant = '' }) => { ctx.body = `tenant ${tenant}` })
    const middleware = router.middleware()
    const call = async (method: string, path: string) => {
      const ctx = { path, method, state: {} as Record<string, unknown>, set: () => {}, body: undefined as unknown, passed: false }
      await middleware(ctx as never, async () => { ctx.passed = true })
      return ctx
    }
    assert.equal((await call('GET', '/')).body, 'home')
    assert.equal((await call('GET', '/pki/certificates/0a.b')).body, 'pki 0a.b')
    assert.equal((await call('GET', '/pki/profile')).body, 'tenant pki')
    assert.equal((await call('GET', '/kim.ops/profile')).body, 'tenant kim.ops')
    // A path of no route (oidc-provider's) falls through; a known path with another method is a 405.
    assert.equal((await call('GET', '/.well-known/openid-configuration')).passed, true)
    assert.equal((await call('GET', '/pkix/ocsp')).passed, true)
    await assert.rejects(call('GET', '/pki/ocsp'), { status: 405 })
  })

  it('runs the steps left to right; a guard that throws stops the row, and a value it loads reaches the handler', async () => {
    const ran: string[] = []
    const loaded = slot<string>('greeting')
    const router = new Router()
      .add('GET', '/ok/:name', 'ok', noStore, (ctx, { name = '' }) => { ran.push('guard'); loaded.set(ctx, `hello ${name}`) }, (ctx) => { ran.push('handler'); ctx.body = loaded.get(ctx) })
      .add('GET', '/refused', 'refused', noStore, () => { throw new Error('refused') }, () => { ran.push('never') })
      .add('GET', '/unloaded', 'unloaded', noStore, (ctx) => { ctx.body = loaded.get(ctx) })
    const middleware = router.middleware()
    const call = async (path: string) => {
      const ctx = { path, method: 'GET', state: {}, set: (name: string, value: string) => { (ctx.headers as Record<string, string>)[name] = value }, headers: {} as Record<string, string>, body: undefined as unknown }
      await middleware(ctx as never, async () => {})
      return ctx
    }
    const ok = await call('/ok/postcert')
    assert.equal(ok.body, 'hello postcert')
    assert.equal(ok.headers['Cache-Control'], 'no-store')
    assert.deepEqual(ran, ['guard', 'handler'])
    await assert.rejects(call('/refused'), /refused/)
    assert.deepEqual(ran, ['guard', 'handler'])
    await assert.rejects(call('/unloaded'), /greeting was not loaded: the route lacks its guard/)
  })

  describe('PostCert\'s table', () => {
    let server: TestServer
    before(async () => { server = await startTestServer() })
    after(async () => { await server.close() })

    it('only public documents may be stored: the CA chain, sector documents, receipt keys, static files and pre-signed OCSP answers (until they expire); status and scripts are revalidated; everything else is never stored', async () => {
      const table = (await buildRouter(server.ctx)).table()
      const byPolicy = (policy: (cache: string) => boolean) => [...new Set(table.filter((r) => policy(r.cache)).map((r) => r.name))].sort()
      assert.deepEqual(byPolicy((c) => c.startsWith('public')), ['assets', 'pki_ca', 'pki_issuing', 'pki_ocsp', 'sector', 'signature_keys'])
      assert.deepEqual(byPolicy((c) => c === 'no-cache'), ['assets', 'pki_certificate', 'pki_crl'])
      assert.ok(table.filter((r) => r.cache === 'no-store').length > 40)
      assert.ok(table.every((r) => ['no-store', 'no-cache'].includes(r.cache) || r.cache.startsWith('public, max-age=')))
    })

    it('answers with the declared header, and never stores an error', async () => {
      await request(server.url).get('/pki/ca.pem').expect(200).expect('Cache-Control', 'public, max-age=3600')
      await request(server.url).get('/pki/crl').expect(200).expect('Cache-Control', 'no-cache')
      await request(server.url).get('/account').expect(303).expect('Cache-Control', 'no-store')
      await request(server.url).get('/enroll').expect(200).expect('Cache-Control', 'no-store')
      await request(server.url).get('/pki/certificates/zz').expect(400).expect('Cache-Control', 'no-store')
    })
  })
})
