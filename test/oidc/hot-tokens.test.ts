import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { connectDatabase } from '../../src/db/connect.ts'
import { HotTokens } from '../../src/oidc/hot-tokens.ts'
import { NEEDS_POSTGRES } from '../helpers/db.ts'
import { eventually } from '../helpers/eventually.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

/** Long enough that what a test sees gone was dropped by a notice, never by its expiry. */
const KEPT_MS = 60_000

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`
async function form(server: TestServer, path: string, auth: string, body: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(body) })
  const text = await res.text()
  return { status: res.status, body: text ? JSON.parse(text) as Record<string, unknown> : {} }
}

/** A service's client and a token of it. */
async function serviceToken(server: TestServer) {
  const added = await server.ctx.clients.add({ name: '자주묻는은행 API', grantTypes: ['client_credentials'] })
  const auth = basic(added.client_id, String(added.client_secret))
  const token = await form(server, '/token', auth, { grant_type: 'client_credentials' })
  assert.equal(token.status, 200, JSON.stringify(token.body))
  return { clientId: added.client_id, auth, accessToken: String(token.body.access_token) }
}

const active = async (server: TestServer, auth: string, token: string) => (await form(server, '/token/introspection', auth, { token })).body.active

describe('service tokens introspection found, answered from memory until their end (#19)', () => {
  let server: TestServer
  before(async () => { server = await startTestServer({ overrides: { hotTokens: new HotTokens({ ttlMs: KEPT_MS }) } }) })
  after(async () => { await server.close() })

  it('answers a service token\'s second introspection from memory, and its revocation at once', async () => {
    const { auth, accessToken } = await serviceToken(server)
    const served = server.ctx.hotTokens.served
    assert.equal(await active(server, auth, accessToken), true)
    assert.equal(await active(server, auth, accessToken), true)
    assert.equal(server.ctx.hotTokens.served, served + 1, 'the second from memory')
    assert.equal((await form(server, '/token/revocation', auth, { token: accessToken })).status, 200)
    assert.equal(await active(server, auth, accessToken), false, 'revoked: inactive at the very next introspection')
  })

  it('drops a client\'s service tokens when its secret is rotated (which ends them)', async () => {
    const { clientId, auth, accessToken } = await serviceToken(server)
    const other = await serviceToken(server)
    for (const _ of [1, 2]) {
      assert.equal(await active(server, auth, accessToken), true)
      assert.equal(await active(server, other.auth, other.accessToken), true)
    }
    const rotated = await server.ctx.clients.rotateSecret(clientId)
    assert.equal(await active(server, basic(clientId, rotated.client_secret), accessToken), false, 'ended with the old secret')
    const served = server.ctx.hotTokens.served
    assert.equal(await active(server, other.auth, other.accessToken), true)
    assert.equal(server.ctx.hotTokens.served, served + 1, 'another client\'s token is still kept')
  })

  it('keeps nothing outside introspection: userinfo-style reads and other token kinds read the database', async () => {
    const { auth, accessToken } = await serviceToken(server)
    const served = server.ctx.hotTokens.served
    // A bearer call to an API of PostCert's (the admin API refuses a non-admin token) finds the token without the memory.
    await fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${accessToken}` } })
    await fetch(`${server.url}/me`, { headers: { authorization: `Bearer ${accessToken}` } })
    assert.equal(server.ctx.hotTokens.served, served)
    // An unknown token is never kept as unknown: one issued later is found.
    assert.equal(await active(server, auth, 'not-a-token-at-all-0123456789'), false)
    assert.equal(await active(server, auth, 'not-a-token-at-all-0123456789'), false)
    assert.equal(server.ctx.hotTokens.served, served)
  })
})

describe('service tokens answered from memory on two instances (#19)', { skip: NEEDS_POSTGRES }, () => {
  let a: TestServer
  let b: TestServer
  before(async () => {
    a = await startTestServer({ overrides: { hotTokens: new HotTokens({ ttlMs: KEPT_MS }) } })
    b = await startTestServer({
      database: { ...a.database, db: connectDatabase({ kind: 'postgres', url: a.database.url! }), dropData: async () => {} },
      masterKey: a.masterKey, env: { PUBLIC_URL: a.issuer }, overrides: { hotTokens: new HotTokens({ ttlMs: KEPT_MS }) },
    })
    // The second instance listens for the first one's notices, as a server on PostgreSQL does from its start.
    await b.ctx.changes.listen(a.database.url!)
  })
  after(async () => {
    await b.close()
    await a.close()
  })

  it('a token revoked on one instance is inactive on the other, which kept it, at once (a notice), not when it would have expired', async () => {
    const { auth, accessToken } = await serviceToken(a)
    assert.equal(await active(b, auth, accessToken), true)
    const served = b.ctx.hotTokens.served
    assert.equal(await active(b, auth, accessToken), true)
    assert.equal(b.ctx.hotTokens.served, served + 1, 'kept by the second instance')
    assert.equal((await form(a, '/token/revocation', auth, { token: accessToken })).status, 200)
    assert.equal(await eventually(() => active(b, auth, accessToken), false), false)
  })

  it('a secret rotated on one instance ends the client\'s tokens the other kept', async () => {
    const { clientId, accessToken, auth } = await serviceToken(a)
    assert.equal(await active(b, auth, accessToken), true)
    const served = b.ctx.hotTokens.served
    assert.equal(await active(b, auth, accessToken), true)
    assert.equal(b.ctx.hotTokens.served, served + 1, 'kept by the second instance')
    const rotated = await a.ctx.clients.rotateSecret(clientId)
    assert.equal(await eventually(() => active(b, basic(clientId, rotated.client_secret), accessToken), false), false)
  })
})
