import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as jose from 'jose'
import * as client from 'openid-client'
import { BACKENDS, createTestSchema } from '../helpers/db.ts'
import { newMasterKey, runCli, startServerProcess, type ServerProcess } from '../helpers/process.ts'
import { freePort, tempDir } from '../helpers/server.ts'

for (const backend of BACKENDS) {
  describe(`a client added with the CLI, on ${backend}`, () => {
    let server: ServerProcess
    let dropSchema = async () => {}
    let registered: { client_id: string; client_secret: string }
    let other: { client_id: string; client_secret: string }
    const rsaClients: Record<string, { client_id: string; client_secret: string }> = {}
    let issuer: URL

    before(async () => {
      const port = await freePort()
      issuer = new URL(`http://localhost:${port}`)
      // A lifetime other than the default: the setting reaches the tokens.
      const env: Record<string, string> = { PORT: String(port), PUBLIC_URL: issuer.href, DATA_DIR: tempDir(), POSTCERT_MASTER_KEY: newMasterKey(), ACCESS_TOKEN_SECONDS: '300' }
      if (backend === 'postgres') {
        const schema = await createTestSchema()
        Object.assign(env, schema.env)
        dropSchema = schema.dropSchema
      }
      // The embedded database allows one process at a time, so the CLI runs before the server.
      const added = await runCli(['clients', 'add', '--name', 'Demo Bank', '--grant-type', 'client_credentials'], env)
      assert.equal(added.code, 0, added.stderr)
      registered = JSON.parse(added.stdout)
      for (const alg of ['PS256', 'RS256']) {
        const rsa = await runCli(['clients', 'add', '--name', `${alg} Bank`, '--grant-type', 'client_credentials',
          '--metadata', JSON.stringify({ introspection_signed_response_alg: alg })], env)
        assert.equal(rsa.code, 0, rsa.stderr)
        rsaClients[alg] = JSON.parse(rsa.stdout)
      }
      const another = await runCli(['clients', 'add', '--name', 'Other Service', '--grant-type', 'client_credentials'], env)
      assert.equal(another.code, 0, another.stderr)
      other = JSON.parse(another.stdout)
      // Two bank APIs: one takes JWT access tokens (RFC 9068), the other opaque ones (#19).
      env.RESOURCE_SERVERS = JSON.stringify([
        { resource: 'https://api.bank.example/accounts', scope: 'accounts:read payments', clients: [registered.client_id], format: 'jwt', ttl: 120 },
        { resource: 'https://api.bank.example/ledger', scope: 'ledger', clients: [registered.client_id, other.client_id] },
        { resource: 'https://api.bank.example/legacy', scope: 'legacy', clients: [registered.client_id], format: 'jwt', alg: 'RS256' },
      ])
      server = await startServerProcess(env)
    })
    after(async () => {
      await server?.stop()
      await dropSchema()
    })

    const configure = (secret: string, metadata: Partial<client.ClientMetadata> = {}, clientId = registered.client_id) =>
      client.discovery(issuer, clientId, metadata, client.ClientSecretBasic(secret), { execute: [client.allowInsecureRequests] })

    it('gets a token that introspects as active, and inactive after revocation', async () => {
      const config = await configure(registered.client_secret)
      const tokens = await client.clientCredentialsGrant(config)
      assert.equal(tokens.token_type.toLowerCase(), 'bearer')
      assert.ok(tokens.access_token.length >= 43)
      assert.ok(tokens.expires_in && tokens.expires_in > 290 && tokens.expires_in <= 300, `expires_in ${tokens.expires_in}: ACCESS_TOKEN_SECONDS`)

      const active = await client.tokenIntrospection(config, tokens.access_token)
      assert.equal(active.active, true)
      assert.equal(active.exp! - active.iat!, 300)
      assert.equal(active.client_id, registered.client_id)
      assert.equal(active.token_type, 'Bearer')

      await client.tokenRevocation(config, tokens.access_token)
      const revoked = await client.tokenIntrospection(config, tokens.access_token)
      assert.equal(revoked.active, false)
    })

    it('gets a signed introspection response that verifies against the JWKS', async () => {
      const config = await configure(registered.client_secret, { introspection_signed_response_alg: 'ES256' })
      const { access_token } = await client.clientCredentialsGrant(config)
      // openid-client asks for application/token-introspection+jwt and checks the signature with jwks_uri
      const claims = await client.tokenIntrospection(config, access_token)
      assert.equal(claims.active, true)
      assert.equal(claims.client_id, registered.client_id)
    })

    for (const alg of ['PS256', 'RS256'] as const) {
      it(`signs with the RSA key for a client registered for ${alg}`, async () => {
        const rsa = rsaClients[alg]!
        const config = await configure(rsa.client_secret, { introspection_signed_response_alg: alg }, rsa.client_id)
        const { access_token } = await client.clientCredentialsGrant(config)
        assert.equal((await client.tokenIntrospection(config, access_token)).active, true)
      })
    }

    it('gets an RFC 9068 JWT access token for an API configured for them: verified with the JWKS, never stored, its trade-off as documented', async () => {
      const config = await configure(registered.client_secret)
      const tokens = await client.clientCredentialsGrant(config, { resource: 'https://api.bank.example/accounts', scope: 'accounts:read ledger' })
      const header = jose.decodeProtectedHeader(tokens.access_token)
      assert.equal(header.typ, 'at+jwt')
      assert.equal(header.alg, 'ES256', 'the default: the cheapest to make')
      const { payload } = await jose.jwtVerify(tokens.access_token, jose.createRemoteJWKSet(new URL('/jwks', issuer)), {
        issuer: issuer.href.replace(/\/$/, ''), audience: 'https://api.bank.example/accounts', typ: 'at+jwt',
      })
      assert.equal(payload.client_id, registered.client_id)
      assert.equal(payload.sub, registered.client_id)
      assert.equal(payload.scope, 'accounts:read', 'only the scopes that API knows')
      assert.equal(payload.exp! - payload.iat!, 120, 'its own lifetime')
      assert.ok(payload.jti)
      // An API that knows only RS256 gets that.
      const legacy = await client.clientCredentialsGrant(config, { resource: 'https://api.bank.example/legacy', scope: 'legacy' })
      assert.equal(jose.decodeProtectedHeader(legacy.access_token).alg, 'RS256')
      await jose.jwtVerify(legacy.access_token, jose.createRemoteJWKSet(new URL('/jwks', issuer)), { audience: 'https://api.bank.example/legacy', typ: 'at+jwt' })
      // Not stored: introspection refuses it plainly, and nothing ends it before it expires (the API checks it alone).
      await assert.rejects(client.tokenIntrospection(config, tokens.access_token),
        (err: client.ResponseBodyError) => err.error === 'unsupported_token_type' && /cannot be introspected/.test(err.error_description ?? ''))
      await assert.rejects(client.tokenRevocation(config, tokens.access_token),
        (err: client.ResponseBodyError) => err.error === 'unsupported_token_type' && /cannot be revoked/.test(err.error_description ?? ''))
    })

    it('gives opaque tokens for an API not configured for JWTs, and refuses a client the API does not list', async () => {
      const config = await configure(registered.client_secret)
      const opaque = await client.clientCredentialsGrant(config, { resource: 'https://api.bank.example/ledger', scope: 'ledger' })
      assert.throws(() => jose.decodeProtectedHeader(opaque.access_token))
      const introspected = await client.tokenIntrospection(config, opaque.access_token)
      assert.equal(introspected.active, true)
      assert.equal(introspected.aud, 'https://api.bank.example/ledger')
      const refused = await configure(other.client_secret, {}, other.client_id)
      await assert.rejects(client.clientCredentialsGrant(refused, { resource: 'https://api.bank.example/accounts', scope: 'accounts:read' }),
        (err: client.ResponseBodyError) => err.error === 'invalid_target')
      await assert.rejects(client.clientCredentialsGrant(refused, { resource: 'https://api.unknown.example/', scope: 'x' }),
        (err: client.ResponseBodyError) => err.error === 'invalid_target')
    })

    it('never writes tokens or secrets to its log', async () => {
      const config = await configure(registered.client_secret)
      const { access_token } = await client.clientCredentialsGrant(config)
      await client.tokenIntrospection(config, access_token)
      const log = server.output()
      assert.match(log, /"route":"token","path":"\/token","status":200/, 'requests are logged')
      assert.ok(!log.includes(access_token), 'no access token')
      assert.ok(!log.includes(registered.client_secret), 'no client secret')
      assert.ok(!log.includes(Buffer.from(`${registered.client_id}:${registered.client_secret}`).toString('base64')), 'no credentials')
    })

    it('refuses a wrong client secret with invalid_client', async () => {
      const config = await configure('not-the-secret')
      await assert.rejects(client.clientCredentialsGrant(config), (err: client.WWWAuthenticateChallengeError) => {
        // a 401 with a Basic challenge carrying the OAuth error
        assert.equal(err.status, 401)
        assert.equal(err.cause[0]?.scheme, 'basic')
        assert.equal(err.cause[0]?.parameters.error, 'invalid_client')
        return true
      })
    })
  })
}
