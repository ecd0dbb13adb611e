import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import * as client from 'openid-client'
import { OCSP_VERSION_CHECK_MS } from '../../src/ca/constants.ts'
import { singleStatus } from '../../src/ca/ocsp.ts'
import { toPem } from '../../src/ca/x509.ts'
import { createTestSchema, NEEDS_POSTGRES, schemaDatabase } from '../helpers/db.ts'
import { issueCertificate, openssl } from '../helpers/pki.ts'
import { runCli, startServerProcess, type ServerProcess } from '../helpers/process.ts'
import { freePort, startTestServer, tempDir } from '../helpers/server.ts'

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
  let schema: Awaited<ReturnType<typeof createTestSchema>>
  let env: Record<string, string>
  const masterKey = randomBytes(32)
  const issuer = 'https://id.postcert.test'
  let registered: { client_id: string; client_secret: string }

  before(async () => {
    schema = await createTestSchema()
    dropSchema = schema.dropSchema
    env = { ...schema.env, POSTCERT_MASTER_KEY: masterKey.toString('base64url'), PUBLIC_URL: issuer, TRUST_PROXY: 'true', KEY_REFRESH_SECONDS: '1' }
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

  it('serves pre-signed OCSP answers from both, and both say revoked within a second of a revocation made by another process (the CLI on the database) (#19)', async () => {
    // A certificate, issued by a third process on the same database (as enrollment on any instance would).
    const issuerProcess = await startTestServer({ database: schemaDatabase(schema), masterKey, env: { PUBLIC_URL: issuer } })
    const { certificate } = await issueCertificate(issuerProcess.ctx.authority)
    const issuing = (await issuerProcess.ctx.ca.issuing()).certificate
    await issuerProcess.close()
    const dir = tempDir()
    fs.writeFileSync(path.join(dir, 'issuing.pem'), issuing.toString('pem'))
    fs.writeFileSync(path.join(dir, 'cert.pem'), toPem(certificate.der, 'CERTIFICATE'))
    const made = await openssl(['ocsp', '-no_nonce', '-issuer', path.join(dir, 'issuing.pem'), '-cert', path.join(dir, 'cert.pem'), '-reqout', path.join(dir, 'req.der')])
    assert.equal(made.code, 0, made.output)
    const requestPath = `/pki/ocsp/${encodeURIComponent(fs.readFileSync(path.join(dir, 'req.der')).toString('base64'))}`
    const ask = async (instance: ServerProcess) => Buffer.from(await (await viaProxy(`${instance.url}${requestPath}`)).arrayBuffer())

    for (const instance of [a, b]) {
      const kept = await ask(instance)
      assert.equal(singleStatus(kept), 'good')
      assert.deepEqual(await ask(instance), kept, `${instance.url} serves the answer it signed (an ECDSA signature differs each time)`)
    }
    const revoked = await runCli(['certificates', 'revoke', certificate.serial, '--reason', 'keyCompromise', '--yes'], env)
    assert.equal(revoked.code, 0, revoked.stderr)
    await new Promise((resolve) => setTimeout(resolve, OCSP_VERSION_CHECK_MS + 100))
    for (const instance of [a, b]) assert.equal(singleStatus(await ask(instance)), 'revoked', instance.url)
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
