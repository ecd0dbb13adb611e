import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import * as client from 'openid-client'
import { createTestSchema, NEEDS_POSTGRES } from '../helpers/db.ts'
import { newMasterKey, runCli, startServerProcess, type ServerProcess } from '../helpers/process.ts'
import { freePort, tempDir } from '../helpers/server.ts'

/** What the TLS proxy in front of the instances does: terminate https, say so in a header. */
const viaProxy = (url: string, init: RequestInit = {}) =>
  fetch(url.replace(/^https:/, 'http:'), { ...init, headers: { ...Object.fromEntries(new Headers(init.headers)), 'x-forwarded-proto': 'https' } })
/** The issuer's URLs (what discovery says), sent to one instance as the proxy would. */
const toInstance = (instance: { url: string }, url: string) => url.replace(/^https:\/\/id\.postcert\.test/, instance.url)

const jwksKids = async (base: string) =>
  ((await (await viaProxy(`${base}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid)

/** Two instances behind one issuer (as behind a load balancer), each reached directly. */
describe('two server processes on one database', { skip: NEEDS_POSTGRES }, () => {
  let a: ServerProcess
  let b: ServerProcess
  let dropSchema = async () => {}
  let env: Record<string, string>
  const issuer = 'https://id.postcert.test'
  let registered: { client_id: string; client_secret: string }

  before(async () => {
    const schema = await createTestSchema()
    dropSchema = schema.dropSchema
    env = { ...schema.env, POSTCERT_MASTER_KEY: newMasterKey(), PUBLIC_URL: issuer, TRUST_PROXY: 'true', KEY_REFRESH_SECONDS: '1' }
    const [pa, pb] = [await freePort(), await freePort()]
    ;[a, b] = await Promise.all([
      startServerProcess({ ...env, PORT: String(pa), DATA_DIR: tempDir() }),
      startServerProcess({ ...env, PORT: String(pb), DATA_DIR: tempDir() }),
    ])
    a.url = `http://127.0.0.1:${pa}`
    b.url = `http://127.0.0.1:${pb}`
    const added = await runCli(['clients', 'add', '--name', 'Twin Bank', '--grant-type', 'client_credentials'], env)
    assert.equal(added.code, 0, added.stderr)
    registered = JSON.parse(added.stdout)
  })
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    await dropSchema()
  })

  /** An openid-client configuration that talks to one instance; the issuer is shared. */
  async function via(instance: ServerProcess, metadata: Partial<client.ClientMetadata> = {}) {
    const server = await (await viaProxy(`${instance.url}/.well-known/openid-configuration`)).json() as client.ServerMetadata
    assert.equal(server.issuer, issuer)
    const config = new client.Configuration(server, registered.client_id, metadata, client.ClientSecretBasic(registered.client_secret))
    client.allowInsecureRequests(config)
    config[client.customFetch] = (url, options) => viaProxy(toInstance(instance, url), options as RequestInit)
    return config
  }

  it('a token issued by one introspects on the other, and a revocation on one holds on both', async () => {
    const { access_token } = await client.clientCredentialsGrant(await via(a))
    assert.equal((await client.tokenIntrospection(await via(b), access_token)).active, true)
    await client.tokenRevocation(await via(b), access_token)
    assert.equal((await client.tokenIntrospection(await via(a), access_token)).active, false)
  })

  it('after keys rotate, both publish old and new keys and new tokens verify against the JWKS', async () => {
    const before = await jwksKids(a.url)
    assert.deepEqual(new Set(await jwksKids(b.url)), new Set(before))

    const rotated = await runCli(['keys', 'rotate', '--yes'], env)
    assert.equal(rotated.code, 0, rotated.stderr)
    const field = (name: string) => rotated.stdout.match(new RegExp(`^${name}: (.*)$`, 'm'))![1]!.split(', ')
    const [activated, retired, prepublished] = [field('activated'), field('retired'), field('pre-published')]
    assert.ok(activated.every((kid) => before.includes(kid)), 'the keys that start signing were published before')

    // Each instance notices within KEY_REFRESH_SECONDS.
    for (const instance of [a, b]) {
      const deadline = Date.now() + 10_000
      let kids = await jwksKids(instance.url)
      while (!prepublished.every((k) => kids.includes(k)) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200))
        kids = await jwksKids(instance.url)
      }
      for (const kid of [...retired, ...activated, ...prepublished]) assert.ok(kids.includes(kid), `${instance.url} publishes ${kid}`)
    }

    // A signed introspection response from each instance: openid-client verifies it with the JWKS.
    for (const instance of [a, b]) {
      const config = await via(instance, { introspection_signed_response_alg: 'ES256' })
      const { access_token } = await client.clientCredentialsGrant(config)
      const claims = await client.tokenIntrospection(config, access_token)
      assert.equal(claims.active, true)
      const res = await viaProxy(`${instance.url}/token/introspection`, {
        method: 'POST',
        headers: {
          accept: 'application/token-introspection+jwt',
          authorization: `Basic ${Buffer.from(`${registered.client_id}:${registered.client_secret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token: access_token }),
      })
      const header = JSON.parse(Buffer.from((await res.text()).split('.')[0]!, 'base64url').toString())
      assert.ok(activated.includes(header.kid), `${instance.url} signs with the newly active key`)
    }
  })
})
