import assert from 'node:assert/strict'
import { generateKeyPairSync, webcrypto } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import * as client from 'openid-client'
import request from 'supertest'
import { createInitialAccessToken } from '../../src/oidc/initial-access-token.ts'
import { checkClientMetadata } from '../../src/oidc/client-policy.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { startHttpsSite, type HttpsSite } from '../helpers/https-site.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { LoginHarness } from '../login/harness.ts'

const REDIRECT = 'https://bank.example.kr/callback'

describe('dynamic client registration (RFC 7591) and its management (RFC 7592)', () => {
  let server: TestServer
  let site: HttpsSite
  let h: LoginHarness
  const clock = new ManualClock()

  before(async () => {
    site = await startHttpsSite()
    server = await startTestServer({ overrides: { clock, fetch: site.fetch } })
    h = new LoginHarness(server, clock)
  })
  after(async () => {
    await server.close()
    await site.close()
  })

  const iat = async (options: Partial<Parameters<typeof createInitialAccessToken>[1]> = {}) =>
    (await createInitialAccessToken(server.ctx.host.provider, { days: 1, ...options })).token
  const register = (body: Record<string, unknown>, token?: string) => {
    const req = request(server.url).post('/reg').set('Content-Type', 'application/json')
    if (token) req.set('Authorization', `Bearer ${token}`)
    return req.send(JSON.stringify(body))
  }
  const refused = async (body: Record<string, unknown>, error: string, description: RegExp) => {
    const res = await register(body, await iat()).expect(400)
    assert.equal(res.body.error, error, res.text)
    assert.match(res.body.error_description, description)
  }

  it('refuses a registration without an initial access token, or with a wrong one', async () => {
    const missing = await register({ redirect_uris: [REDIRECT] }).expect(401)
    assert.equal(missing.body.error, 'invalid_token')
    assert.match(String(missing.headers['www-authenticate']), /^Bearer /)
    const wrong = await register({ redirect_uris: [REDIRECT] }, 'not-a-token').expect(401)
    assert.equal(wrong.body.error, 'invalid_token')
  })

  it('registers a client with an initial access token, which the first registration spends', async () => {
    const token = await iat()
    const res = await register({ redirect_uris: [REDIRECT], client_name: 'Example Bank', 'client_name#ko': '예시은행' }, token).expect(201)
    assert.match(res.body.client_id, /^pc_/)
    assert.ok(res.body.client_secret.length >= 43)
    assert.equal(res.body.token_endpoint_auth_method, 'client_secret_basic')
    assert.equal(res.body.subject_type, 'pairwise')
    assert.equal(res.body['client_name#ko'], '예시은행')
    assert.match(res.body.registration_client_uri, new RegExp(`/reg/${res.body.client_id}$`))
    assert.ok(res.body.registration_access_token)
    const again = await register({ redirect_uris: [REDIRECT] }, token).expect(401)
    assert.equal(again.body.error, 'invalid_token')
  })

  it('lets a reusable token register several clients', async () => {
    const token = await iat({ reusable: true })
    await register({ redirect_uris: [REDIRECT] }, token).expect(201)
    await register({ redirect_uris: [REDIRECT] }, token).expect(201)
  })

  it('refuses http, wildcard, fragment and user-info redirect URIs with invalid_redirect_uri', async () => {
    await refused({ redirect_uris: ['http://bank.example.kr/callback'] }, 'invalid_redirect_uri', /https/)
    await refused({ redirect_uris: ['https://*.example.kr/callback'] }, 'invalid_redirect_uri', /wildcard/)
    await refused({ redirect_uris: ['https://bank.example.kr/cb*'] }, 'invalid_redirect_uri', /wildcard/)
    await refused({ redirect_uris: ['https://bank.example.kr/callback#done'] }, 'invalid_redirect_uri', /fragment/)
    await refused({ redirect_uris: ['https://me:pw@bank.example.kr/callback'] }, 'invalid_redirect_uri', /user information/)
    await refused({ redirect_uris: [] }, 'invalid_redirect_uri', /redirect_uris/)
  })

  it('refuses http logo, policy and terms URIs and an http post-logout URI with invalid_client_metadata', async () => {
    for (const key of ['logo_uri', 'policy_uri', 'tos_uri', 'client_uri']) {
      await refused({ redirect_uris: [REDIRECT], [key]: 'http://bank.example.kr/x' }, 'invalid_client_metadata', new RegExp(`${key} must be an https URL`))
    }
    await refused({ redirect_uris: [REDIRECT], post_logout_redirect_uris: ['http://bank.example.kr/'] }, 'invalid_client_metadata', /post_logout_redirect_uris must use https/)
  })

  it('refuses both jwks and jwks_uri, and private_key_jwt with neither', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const jwks = { keys: [publicKey.export({ format: 'jwk' })] }
    await refused({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'private_key_jwt', jwks, jwks_uri: 'https://bank.example.kr/jwks' },
      'invalid_client_metadata', /jwks and jwks_uri/)
    await refused({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'private_key_jwt' }, 'invalid_client_metadata', /jwks or jwks_uri/)
  })

  it('checks the sector identifier document against the redirect URIs', async () => {
    site.serve('/sector-bad.json', ['https://other.example.kr/cb'])
    await refused({ redirect_uris: [REDIRECT], sector_identifier_uri: `${site.origin}/sector-bad.json` }, 'invalid_client_metadata', /sector_identifier_uri/)
    await refused({ redirect_uris: [REDIRECT], sector_identifier_uri: `${site.origin}/missing.json` }, 'invalid_client_metadata', /sector_identifier_uri/)
    await refused({ redirect_uris: [REDIRECT], sector_identifier_uri: 'http://bank.example.kr/sector.json' }, 'invalid_client_metadata', /sector_identifier_uri must be a https uri/)
  })

  it('gives a pairwise client with redirect URIs on several hosts a sector of its own', async () => {
    const uris = ['https://web.own.example.kr/cb', 'https://app.own.example.kr/cb']
    const own = (await register({ redirect_uris: uris }, await iat()).expect(201)).body
    const sectors = `${server.issuer.replace('http:', 'https:')}/sectors/`
    assert.equal(own.sector_identifier_uri, `${sectors}${own.client_id}`)
    assert.deepEqual((await request(server.url).get(`/sectors/${own.client_id}`).expect(200)).body, uris, 'its sector document lists its redirect URIs')
    await request(server.url).get('/sectors/pc_nobody').expect(404)
    const sibling = (await register({ redirect_uris: uris }, await iat()).expect(201)).body
    const holder = await h.subscriber()
    const subjects = []
    for (const registered of [own, sibling]) {
      const { tokens } = await h.login(await rpFor(server, registered), holder)
      subjects.push(tokens.claims()!.sub)
    }
    assert.notEqual(subjects[0], subjects[1], 'each such client has subjects of its own')
    // Claiming the sector PostCert gave another client would share its subjects: refused.
    await refused({ redirect_uris: uris, sector_identifier_uri: `${sectors}${sibling.client_id}` }, 'invalid_client_metadata', /another client/)
  })

  it('gives two clients of one sector the same pairwise subject, and another sector a different one', async () => {
    site.serve('/sector.json', ['https://web.bank.example.kr/cb', 'https://app.bank.example.kr/cb'])
    const sector = `${site.origin}/sector.json`
    const web = (await register({ redirect_uris: ['https://web.bank.example.kr/cb'], sector_identifier_uri: sector }, await iat()).expect(201)).body
    const app = (await register({ redirect_uris: ['https://app.bank.example.kr/cb'], sector_identifier_uri: sector }, await iat()).expect(201)).body
    const other = (await register({ redirect_uris: ['https://web.other.example.kr/cb'] }, await iat()).expect(201)).body
    const holder = await h.subscriber()
    const subjects = []
    for (const registered of [web, app, other]) {
      const rp = await rpFor(server, registered)
      const { tokens } = await h.login(rp, holder)
      subjects.push(tokens.claims()!.sub)
    }
    assert.equal(subjects[0], subjects[1])
    assert.notEqual(subjects[0], subjects[2])
    assert.notEqual(subjects[0], holder.id)
  })

  it('never lets a client grant itself the connecting identifier; an approved token does', async () => {
    const self = (await register({ redirect_uris: [REDIRECT], postcert_ci_allowed: true }, await iat()).expect(201)).body
    assert.equal(self.postcert_ci_allowed, undefined)
    const approved = (await register({ redirect_uris: [REDIRECT] }, await iat({ ci: true })).expect(201)).body
    assert.equal(approved.postcert_ci_allowed, true)

    const holder = await h.subscriber()
    for (const [registered, released] of [[self, false], [approved, true]] as const) {
      const rp = await rpFor(server, registered)
      const { tokens } = await h.login(rp, holder, { scope: 'openid ci' })
      const info = await client.fetchUserInfo(rp.config, tokens.access_token, tokens.claims()!.sub)
      assert.equal('ci' in info, released)
    }

    // An update keeps what the operator approved, whatever the client sends.
    const update = (body: Record<string, unknown>, registered: typeof self) => request(server.url).put(`/reg/${registered.client_id}`)
      .set('Authorization', `Bearer ${registered.registration_access_token}`).set('Content-Type', 'application/json')
      .send(JSON.stringify({ client_id: registered.client_id, redirect_uris: [REDIRECT], ...body }))
    assert.equal((await update({ postcert_ci_allowed: true }, self).expect(200)).body.postcert_ci_allowed, undefined)
    assert.equal((await update({ postcert_ci_allowed: false }, approved).expect(200)).body.postcert_ci_allowed, true)
  })

  it('public subjects and the certificate claim only with the operator\'s approval (both link a person across institutions)', async () => {
    const refused = await register({ redirect_uris: [REDIRECT], subject_type: 'public', postcert_public_subject_allowed: true }, await iat()).expect(400)
    assert.equal(refused.body.error, 'invalid_client_metadata')
    assert.match(refused.body.error_description, /subject_type public needs the operator's approval/)
    const publicOk = (await register({ redirect_uris: [REDIRECT], subject_type: 'public' }, await iat({ publicSubject: true })).expect(201)).body
    assert.equal(publicOk.subject_type, 'public')
    const self = (await register({ redirect_uris: [REDIRECT], scope: 'openid certificate', postcert_certificate_allowed: true }, await iat()).expect(201)).body
    assert.equal(self.postcert_certificate_allowed, undefined, 'a client cannot approve itself')
    const approved = (await register({ redirect_uris: [REDIRECT], scope: 'openid certificate' }, await iat({ certificateClaim: true })).expect(201)).body
    assert.equal(approved.postcert_certificate_allowed, true)
    const holder = await h.subscriber()
    for (const [registered, released] of [[self, false], [approved, true]] as const) {
      const rp = await rpFor(server, registered)
      const { tokens } = await h.login(rp, holder, { scope: 'openid certificate' })
      const info = await client.fetchUserInfo(rp.config, tokens.access_token, tokens.claims()!.sub)
      assert.equal('certificate' in info, released)
    }
  })

  it('requires PKCE unless the operator exempts a confidential client', async () => {
    const noPkce = async (registered: Record<string, string>) => {
      const rp = await rpFor(server, registered)
      const url = client.buildAuthorizationUrl(rp.config, { redirect_uri: REDIRECT, scope: 'openid', nonce: 'n', state: 's' })
      return (await request(server.url).get(url.pathname + url.search)).headers.location!
    }
    const self = (await register({ redirect_uris: [REDIRECT], postcert_pkce_required: false }, await iat()).expect(201)).body
    assert.equal(self.postcert_pkce_required, undefined, 'a client cannot exempt itself')
    assert.match(await noPkce(self), /error=invalid_request.*PKCE/)
    const exempt = (await register({ redirect_uris: [REDIRECT] }, await iat({ pkceOptional: true })).expect(201)).body
    assert.equal(exempt.postcert_pkce_required, false)
    assert.match(await noPkce(exempt), /^\/interaction\//)
    // A public client is never exempt, even with the operator's token.
    const pub = await register({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }, await iat({ pkceOptional: true })).expect(400)
    assert.equal(pub.body.error, 'invalid_client_metadata')
    assert.match(pub.body.error_description, /always use PKCE/)
  })

  it('limits the scopes a client may ask for', async () => {
    const registered = (await register({ redirect_uris: [REDIRECT], scope: 'openid profile' }, await iat()).expect(201)).body
    const rp = await rpFor(server, registered)
    const { location } = await h.authorize(rp, { scope: 'openid profile phone' })
    const callback = new URL(location)
    assert.equal(callback.searchParams.get('error'), 'invalid_scope')
  })

  it('shows the institution name in the page language (client_name#ko, client_name#en)', async () => {
    const registered = (await register({ redirect_uris: [REDIRECT], client_name: 'Plain Name', 'client_name#ko': '우리동네은행', 'client_name#en': 'Neighbourhood Bank' }, await iat()).expect(201)).body
    const rp = await rpFor(server, registered)
    assert.match((await h.begin(rp, { ui_locales: 'ko' })).page.text, /우리동네은행/)
    const english = (await h.begin(rp, { ui_locales: 'en' })).page.text
    assert.match(english, /Neighbourhood Bank/)
    assert.doesNotMatch(english, /우리동네은행/)
  })

  it('reads, updates (rotating the registration access token) and deletes a registration', async () => {
    const registered = (await register({ redirect_uris: [REDIRECT] }, await iat()).expect(201)).body
    const path = new URL(registered.registration_client_uri).pathname
    const auth = (token: string) => ({ Authorization: `Bearer ${token}` })

    const read = await request(server.url).get(path).set(auth(registered.registration_access_token)).expect(200)
    assert.deepEqual(read.body.redirect_uris, [REDIRECT])
    assert.equal(read.body.client_secret, registered.client_secret)

    const updated = await request(server.url).put(path).set(auth(registered.registration_access_token)).set('Content-Type', 'application/json')
      .send(JSON.stringify({ client_id: registered.client_id, redirect_uris: ['https://bank.example.kr/new-callback'] })).expect(200)
    assert.deepEqual(updated.body.redirect_uris, ['https://bank.example.kr/new-callback'])
    assert.notEqual(updated.body.registration_access_token, registered.registration_access_token)
    await request(server.url).get(path).set(auth(registered.registration_access_token)).expect(401)

    const badUpdate = await request(server.url).put(path).set(auth(updated.body.registration_access_token)).set('Content-Type', 'application/json')
      .send(JSON.stringify({ client_id: registered.client_id, redirect_uris: ['http://bank.example.kr/cb'] })).expect(400)
    assert.equal(badUpdate.body.error, 'invalid_redirect_uri')

    await request(server.url).delete(path).set(auth(updated.body.registration_access_token)).expect(204)
    const gone = await request(server.url).post('/token').auth(registered.client_id, registered.client_secret)
      .type('form').send({ grant_type: 'authorization_code', code: 'x', redirect_uri: REDIRECT }).expect(401)
    assert.equal(gone.body.error, 'invalid_client')
  })

  for (const method of ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'] as const) {
    it(`logs in with a client registered for ${method}`, async () => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' }
      const registered = (await register({
        redirect_uris: [REDIRECT], token_endpoint_auth_method: method,
        ...(method === 'private_key_jwt' ? { jwks: { keys: [jwk] }, token_endpoint_auth_signing_alg: 'ES256' } : {}),
      }, await iat()).expect(201)).body
      assert.equal(registered.token_endpoint_auth_method, method)
      assert.equal('client_secret' in registered, method === 'client_secret_basic' || method === 'client_secret_post')
      const auth = method === 'client_secret_basic' ? client.ClientSecretBasic(registered.client_secret)
        : method === 'client_secret_post' ? client.ClientSecretPost(registered.client_secret)
          : method === 'none' ? client.None()
            : client.PrivateKeyJwt({ key: await webcrypto.subtle.importKey('pkcs8', privateKey.export({ format: 'der', type: 'pkcs8' }), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']), kid: 'k1' })
      const rp = await rpFor(server, registered, auth)
      const { tokens } = await h.login(rp, await h.subscriber())
      assert.ok(tokens.claims()!.sub)
      // A wrong secret (or none) for a confidential client fails at the token endpoint.
      if (method === 'client_secret_basic') {
        const wrong = await request(server.url).post('/token').auth(registered.client_id, 'wrong').type('form').send({ grant_type: 'refresh_token', refresh_token: 'x' }).expect(401)
        assert.equal(wrong.body.error, 'invalid_client')
      }
    })
  }

  it('applies the production policy: no http redirect URI even on localhost', () => {
    const metadata = () => ({ redirect_uris: ['http://localhost:4000/callback'] })
    assert.doesNotThrow(() => checkClientMetadata(undefined, metadata(), { production: false, issuer: server.issuer }))
    assert.throws(() => checkClientMetadata(undefined, metadata(), { production: true, issuer: server.issuer }), (err: Error & { error?: string; error_description?: string }) =>
      err.error === 'invalid_redirect_uri' && err.error_description === 'redirect_uris must use https')
  })
})

/** An openid-client configuration for a registration response. */
async function rpFor(server: TestServer, registered: Record<string, string>, auth?: client.ClientAuth) {
  const config = await client.discovery(new URL(server.issuer), registered.client_id!, {}, auth ?? client.ClientSecretBasic(registered.client_secret!), { execute: [client.allowInsecureRequests] })
  return { config, redirectUri: (registered.redirect_uris as unknown as string[])[0]! }
}
