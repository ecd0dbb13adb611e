import assert from 'node:assert/strict'
import { generateKeyPairSync, webcrypto } from 'node:crypto'
import { before, describe, it } from 'node:test'
import * as client from 'openid-client'
import request from 'supertest'
import { createInitialAccessToken } from '../../src/oidc/initial-access-token.ts'
import { ManualClock } from '../../src/util/clock.ts'
import { clientKey } from '../conformance/harness.ts'
import { loginSuite } from '../helpers/suite.ts'

const REDIRECT = 'https://fapi.bank.example.kr/callback'

describe('the FAPI 2.0 Security Profile for clients registered under it', () => {
  const clock = new ManualClock()
  let fapi: { config: client.Configuration; redirectUri: string; clientId: string }

  const { server, h } = loginSuite(clock)
  before(async () => {
    const { privateKey: key, jwk } = await clientKey('ES256')
    const registered = (await register({
      redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] },
    }, { fapi: true }).expect(201)).body
    fapi = { config: await discover(registered.client_id, client.PrivateKeyJwt({ key, kid: String(jwk.kid) })), redirectUri: REDIRECT, clientId: registered.client_id }
  })

  /** A registration with an initial access token; `expect` the status. */
  const register = (body: Record<string, unknown>, options: { fapi?: boolean } = {}) => ({
    expect: async (status: number) => {
      const { token } = await createInitialAccessToken(server.ctx.host.provider, { days: 1, fapi: options.fapi })
      return await request(server.url).post('/reg').set('Authorization', `Bearer ${token}`).set('Content-Type', 'application/json').send(JSON.stringify(body)).expect(status)
    },
  })
  const discover = (clientId: string, auth: client.ClientAuth) =>
    client.discovery(new URL(server.issuer), clientId, {}, auth, { execute: [client.allowInsecureRequests] })

  /** PAR with PKCE and DPoP, login with the programmatic holder, then the code exchange. */
  async function fapiLogin(rp = fapi, options: { dpopAtPar?: boolean } = {}) {
    const dpop = client.getDPoPHandle(rp.config, await client.randomDPoPKeyPair('ES256'))
    const verifier = client.randomPKCECodeVerifier()
    const [state, nonce] = [client.randomState(), client.randomNonce()]
    const pushed = await client.buildAuthorizationUrlWithPAR(rp.config, {
      redirect_uri: rp.redirectUri, scope: 'openid profile offline_access', prompt: 'consent', state, nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    }, options.dpopAtPar === false ? {} : { DPoP: dpop })
    const flow = await h.begin(rp, {}, undefined, pushed)
    const { response } = await h.prove(flow, await h.subscriber())
    assert.equal(response.status, 200, response.text)
    const callback = await h.consentIfAsked(flow.browser, await h.follow(flow.browser, response.body.redirect))
    return { callback, verifier, state, nonce, dpop }
  }

  it('registers with PAR required and DPoP-bound tokens, set by the profile', async () => {
    const metadata = (await request(server.url).get('/.well-known/openid-configuration').expect(200)).body
    assert.equal(metadata.authorization_response_iss_parameter_supported, true)
    assert.ok(metadata.dpop_signing_alg_values_supported.includes('ES256'))
    assert.ok(metadata.pushed_authorization_request_endpoint)
    const { jwk } = await clientKey('PS256')
    const res = (await register({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] } }, { fapi: true }).expect(201)).body
    assert.equal(res.postcert_fapi_profile, '2.0')
    assert.equal(res.require_pushed_authorization_requests, true)
    assert.equal(res.dpop_bound_access_tokens, true)
  })

  it('refuses a FAPI registration with a client secret, another grant, DPoP turned off or RS256', async () => {
    const { jwk } = await clientKey('ES256')
    const base = { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] } }
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...base, token_endpoint_auth_method: 'client_secret_basic', jwks: undefined }, /private_key_jwt/],
      [{ ...base, grant_types: ['authorization_code', 'client_credentials'] }, /authorization code grant only/],
      [{ ...base, dpop_bound_access_tokens: false }, /dpop_bound_access_tokens/],
      [{ ...base, require_pushed_authorization_requests: false }, /require_pushed_authorization_requests/],
      [{ ...base, token_endpoint_auth_signing_alg: 'RS256' }, /client assertions are signed with PS256, ES256, EdDSA/],
      [{ ...base, id_token_signed_response_alg: 'RS256' }, /ID tokens are signed with/],
    ]
    for (const [body, description] of cases) {
      const res = await register(body, { fapi: true }).expect(400)
      assert.equal(res.body.error, 'invalid_client_metadata')
      assert.match(res.body.error_description, description)
    }
  })

  it('completes a login with PAR, PKCE, private_key_jwt and DPoP; the response carries iss', async () => {
    const { callback, verifier, state, nonce, dpop } = await fapiLogin()
    assert.equal(callback.searchParams.get('iss'), server.issuer)
    const tokens = await client.authorizationCodeGrant(fapi.config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce }, undefined, { DPoP: dpop })
    assert.equal(tokens.token_type, 'dpop')
    assert.ok(tokens.refresh_token)
    const sub = tokens.claims()!.sub
    const info = await client.fetchUserInfo(fapi.config, tokens.access_token, sub, { DPoP: dpop })
    assert.equal(info.sub, sub)
    const refreshed = await client.refreshTokenGrant(fapi.config, tokens.refresh_token!, undefined, { DPoP: dpop })
    assert.equal(refreshed.token_type, 'dpop')
  })

  it('refuses the access token presented as a plain bearer token', async () => {
    const { callback, verifier, state, nonce, dpop } = await fapiLogin()
    const tokens = await client.authorizationCodeGrant(fapi.config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce }, undefined, { DPoP: dpop })
    const bearer = await request(server.url).get('/me').set('Authorization', `Bearer ${tokens.access_token}`).expect(401)
    assert.equal(bearer.body.error, 'invalid_token')
    // And a DPoP proof made with another key does not match the token's binding.
    const other = client.getDPoPHandle(fapi.config, await client.randomDPoPKeyPair('ES256'))
    await assert.rejects(client.fetchUserInfo(fapi.config, tokens.access_token, tokens.claims()!.sub, { DPoP: other }),
      (err: client.WWWAuthenticateChallengeError) => err.status === 401 && err.cause[0]!.parameters.error === 'invalid_token')
  })

  it('refuses the code exchange without a DPoP proof', async () => {
    // The pushed request had no proof: the token request must still bring one (oidc-provider
    // answers invalid_grant and logs "DPoP proof JWT not provided").
    const unbound = await fapiLogin(fapi, { dpopAtPar: false })
    await assert.rejects(client.authorizationCodeGrant(fapi.config, unbound.callback, { pkceCodeVerifier: unbound.verifier, expectedState: unbound.state, expectedNonce: unbound.nonce }),
      (err: client.ResponseBodyError) => err.error === 'invalid_grant')
    // With a proof, the same kind of request goes through: the refusal above was the missing proof.
    const proven = await fapiLogin(fapi, { dpopAtPar: false })
    const tokens = await client.authorizationCodeGrant(fapi.config, proven.callback, { pkceCodeVerifier: proven.verifier, expectedState: proven.state, expectedNonce: proven.nonce }, undefined, { DPoP: proven.dpop })
    assert.equal(tokens.token_type, 'dpop')
    // The pushed request had a proof: the code is bound to that key (RFC 9449 section 10).
    const bound = await fapiLogin()
    await assert.rejects(client.authorizationCodeGrant(fapi.config, bound.callback, { pkceCodeVerifier: bound.verifier, expectedState: bound.state, expectedNonce: bound.nonce }),
      (err: client.ResponseBodyError) => err.error === 'invalid_grant')
    const other = client.getDPoPHandle(fapi.config, await client.randomDPoPKeyPair('ES256'))
    const again = await fapiLogin()
    await assert.rejects(client.authorizationCodeGrant(fapi.config, again.callback, { pkceCodeVerifier: again.verifier, expectedState: again.state, expectedNonce: again.nonce }, undefined, { DPoP: other }),
      (err: client.ResponseBodyError) => err.error === 'invalid_grant')
  })

  it('refuses an authorization request that was not pushed (PAR)', async () => {
    const verifier = client.randomPKCECodeVerifier()
    const url = client.buildAuthorizationUrl(fapi.config, {
      redirect_uri: REDIRECT, scope: 'openid', state: client.randomState(),
      code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
    })
    const res = await request(server.url).get(url.pathname + url.search)
    const location = new URL(res.headers.location!, server.url)
    assert.equal(location.origin + location.pathname, REDIRECT)
    assert.equal(location.searchParams.get('error'), 'invalid_request')
    assert.match(location.searchParams.get('error_description')!, /[Pp]ushed [Aa]uthorization [Rr]equest/)
  })

  it('refuses a pushed request without PKCE, or with the plain method', async () => {
    for (const extra of [{}, { code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' }] as Record<string, string>[]) {
      await assert.rejects(client.buildAuthorizationUrlWithPAR(fapi.config, { redirect_uri: REDIRECT, scope: 'openid', ...extra }),
        (err: client.ResponseBodyError) => err.error === 'invalid_request' && /PKCE|code_challenge/.test(String(err.error_description)))
    }
  })

  it('refuses a client assertion signed with RS256, and takes PS256 with the same key', async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 })
    const pkcs8 = pair.privateKey.export({ format: 'der', type: 'pkcs8' })
    const jwk = { ...pair.publicKey.export({ format: 'jwk' }), kid: 'rsa-key', use: 'sig' }
    const registered = (await register({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] } }, { fapi: true }).expect(201)).body
    const push = async (algorithm: Parameters<typeof webcrypto.subtle.importKey>[2]) => {
      const key = await webcrypto.subtle.importKey('pkcs8', pkcs8, algorithm, false, ['sign'])
      const config = await discover(registered.client_id, client.PrivateKeyJwt({ key, kid: String(jwk.kid) }))
      const verifier = client.randomPKCECodeVerifier()
      return await client.buildAuthorizationUrlWithPAR(config, {
        redirect_uri: REDIRECT, scope: 'openid', code_challenge: await client.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      })
    }
    assert.match((await push({ name: 'RSA-PSS', hash: 'SHA-256' })).searchParams.get('request_uri')!, /^urn:ietf:params:oauth:request_uri:/)
    await assert.rejects(push({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }), (err: client.ResponseBodyError) => err.error === 'invalid_client')
  })

  it('lets an authorization code live 60 seconds at most', async () => {
    const { callback, verifier, state, nonce, dpop } = await fapiLogin()
    clock.advance(61)
    await assert.rejects(client.authorizationCodeGrant(fapi.config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce }, undefined, { DPoP: dpop }),
      (err: client.ResponseBodyError) => err.error === 'invalid_grant')
  })

  it('keeps other clients as they were: a bearer token for a client outside the profile', async () => {
    const rp = await h.relyingParty({ redirectUri: 'https://plain.bank.example.kr/cb' })
    const { tokens } = await h.login(rp, await h.subscriber())
    assert.equal(tokens.token_type, 'bearer')
  })
})
