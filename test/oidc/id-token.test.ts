import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import * as jose from 'jose'
import * as client from 'openid-client'
import request from 'supertest'
import { createInitialAccessToken } from '../../src/oidc/initial-access-token.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { clientKey } from '../conformance/harness.ts'
import { loginSuite } from '../helpers/suite.ts'

/**
 * The ID token's algorithm and session id as relying parties with default settings expect them:
 * RS256 unless the client registered another (OpenID Connect Dynamic Client Registration 1.0,
 * section 2), and `sid` in every ID token.
 */
describe('ID tokens: RS256 by default, sid always', () => {
  const clock = new ManualClock()
  const { server, h } = loginSuite(clock)

  /** A relying party like go-oidc with its defaults: RS256 only, keys from the JWKS. */
  async function verifyAsRs256OnlyRp(idToken: string, clientId: string) {
    const jwks = jose.createRemoteJWKSet(new URL(`${server.url}/jwks`))
    return await jose.jwtVerify(idToken, jwks, { issuer: server.issuer, audience: clientId, algorithms: ['RS256'] })
  }

  async function register(metadata: Record<string, unknown>) {
    const { token } = await createInitialAccessToken(server.ctx.host.provider, { days: 1 })
    return await request(server.url).post('/reg').set('Authorization', `Bearer ${token}`).send({ redirect_uris: ['https://rs.example.kr/cb'], ...metadata })
  }

  it('a client the operator added without an algorithm gets RS256, which an RS256-only relying party accepts', async () => {
    const rp = await h.relyingParty({ name: 'RS256 은행', redirectUri: 'https://rs.example.kr/cb' })
    const { tokens } = await h.login(rp, await h.subscriber())
    const { protectedHeader, payload } = await verifyAsRs256OnlyRp(tokens.id_token!, rp.clientId)
    assert.equal(protectedHeader.alg, 'RS256')
    assert.ok(protectedHeader.kid, 'the ID token names its key')
    assert.equal(payload.sub, tokens.claims()!.sub)
  })

  it('a dynamically registered client that names no algorithm is registered with RS256', async () => {
    const res = await register({})
    assert.equal(res.status, 201, res.text)
    assert.equal(res.body.id_token_signed_response_alg, 'RS256')
  })

  it('ES256 and PS256 on request', async () => {
    for (const alg of ['ES256', 'PS256']) {
      const rp = await h.relyingParty({ name: `${alg} 은행`, redirectUri: 'https://rs.example.kr/cb', metadata: { id_token_signed_response_alg: alg } })
      const { tokens } = await h.login(rp, await h.subscriber())
      assert.equal(jose.decodeProtectedHeader(tokens.id_token!).alg, alg)
    }
  })

  it('a FAPI 2.0 client that names no algorithm keeps ES256 (FAPI 2.0 allows no RS256); RS256 is refused for it', async () => {
    const key = await clientKey('PS256')
    const { token } = await createInitialAccessToken(server.ctx.host.provider, { days: 1, fapi: true, reusable: true })
    const fapi = (metadata: Record<string, unknown>) => request(server.url).post('/reg').set('Authorization', `Bearer ${token}`)
      .send({ redirect_uris: ['https://fapi.example.kr/cb'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [key.jwk] }, ...metadata })
    const registered = await fapi({})
    assert.equal(registered.status, 201, registered.text)
    assert.equal(registered.body.id_token_signed_response_alg, 'ES256')
    const refused = await fapi({ id_token_signed_response_alg: 'RS256' })
    assert.equal(refused.status, 400)
    assert.equal(refused.body.error, 'invalid_client_metadata')
    const store = server.ctx.clients
    const added = await store.add({ name: 'FAPI 은행', redirectUris: ['https://fapi.example.kr/cb'], fapi: true, metadata: { jwks: { keys: [key.jwk] } } })
    assert.equal(added.id_token_signed_response_alg, 'ES256')
  })

  it('every ID token carries sid, also for a client without a back-channel logout URI, and after a refresh', async () => {
    const rp = await h.relyingParty({ name: 'sid 은행', redirectUri: 'https://rs.example.kr/cb' })
    const { tokens } = await h.login(rp, await h.subscriber(), { scope: 'openid offline_access', prompt: 'consent' })
    const sid = tokens.claims()!.sid
    assert.equal(typeof sid, 'string', 'sid in the ID token')
    const refreshed = await client.refreshTokenGrant(rp.config, tokens.refresh_token!)
    assert.equal(refreshed.claims()!.sid, sid, 'the same sid after a refresh')
  })
})
