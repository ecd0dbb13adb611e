import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { before, describe, it } from 'node:test'
import { createHash } from 'node:crypto'
import { SignJWT } from 'jose'
import * as client from 'openid-client'
import { ManualClock } from '../../src/util/clock.ts'
import { runCli } from '../helpers/process.ts'
import { tempDir } from '../helpers/server.ts'
import { LoginHarness } from '../login/harness.ts'
import { CONTRACT } from './harness.ts'
import { loginSuite } from '../helpers/suite.ts'
import { sql } from 'kysely'
import { connectDatabase } from '../../src/db/connect.ts'
import { createTestSchema } from '../helpers/db.ts'

describe('the signature archive and its verifiers', () => {
  let rp: Awaited<ReturnType<LoginHarness['relyingParty']>>
  let other: Awaited<ReturnType<LoginHarness['relyingParty']>>
  const clock = new ManualClock()

  const { server, h, signing } = loginSuite(clock)
  before(async () => {
    rp = await h.relyingParty({ name: 'Archive Bank', redirectUri: 'https://archive.example.kr/cb' })
    other = await h.relyingParty({ name: 'Other Bank', redirectUri: 'https://other.example.kr/cb' })
  })

  const verify = async (evidence: unknown) => {
    const res = await fetch(`${server.url}/signatures/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(evidence) })
    assert.equal(res.status, 200)
    return await res.json() as Record<string, any>
  }

  it('gives the signature to the institution that asked, with its access token, and to no other', async () => {
    const holder = await h.subscriber()
    const { evidence, tokens } = await signing.sign(rp, holder)
    const get = (token?: string) => fetch(`${server.url}/signatures/${evidence.signature_id}`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
    const own = await get(tokens.access_token)
    assert.equal(own.status, 200)
    const archived = await own.json() as Record<string, any>
    assert.equal(archived.payload, evidence.payload)
    assert.equal(archived.receipt, evidence.receipt)
    assert.equal(archived.request.documents[0].text, CONTRACT, 'with the text the subscriber read')

    const stranger = await h.subscriber()
    const { tokens: otherTokens } = await signing.sign(other, stranger)
    const foreign = await get(otherTokens.access_token)
    assert.equal(foreign.status, 404, 'another institution cannot read it')
    const none = await get()
    assert.equal(none.status, 401)
    assert.equal((await none.json() as { error: string }).error, 'invalid_token')
    assert.equal((await get('not-a-token')).status, 401)
  })

  it('gives the signature for a DPoP-bound access token only with a matching proof', async () => {
    const keyPair = await client.randomDPoPKeyPair('ES256')
    const dpop = client.getDPoPHandle(rp.config, keyPair)
    const { evidence, tokens } = await signing.sign(rp, await h.subscriber(), undefined, { DPoP: dpop })
    assert.equal(tokens.token_type, 'dpop')
    const url = new URL(`${server.issuer}/signatures/${evidence.signature_id}`)
    const own = await client.fetchProtectedResource(rp.config, tokens.access_token, url, 'GET', null, undefined, { DPoP: dpop })
    assert.equal(own.status, 200)
    assert.equal(((await own.json()) as { receipt: string }).receipt, evidence.receipt)

    const refused = async (headers: Record<string, string>, description: RegExp) => {
      const res = await fetch(url, { headers })
      assert.equal(res.status, 401)
      const body = await res.json() as { error: string; error_description: string }
      assert.match(body.error_description, description)
      return body.error
    }
    assert.equal(await refused({ authorization: `Bearer ${tokens.access_token}` }, /DPoP-bound/), 'invalid_token')
    assert.equal(await refused({ authorization: `DPoP ${tokens.access_token}` }, /proof is required/), 'invalid_dpop_proof')
    // A proof made with another key, or for another URL, or used a second time.
    const proofFor = async (key: typeof keyPair, htu: string, jti = crypto.randomUUID()) => {
      const jwk = await crypto.subtle.exportKey('jwk', key.publicKey)
      const ath = createHash('sha256').update(tokens.access_token).digest('base64url')
      return await new SignJWT({ htm: 'GET', htu, jti, ath }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: { kty: jwk.kty!, crv: jwk.crv!, x: jwk.x!, y: jwk.y! } }).setIssuedAt().sign(key.privateKey)
    }
    const stranger = await client.randomDPoPKeyPair('ES256')
    const auth = { authorization: `DPoP ${tokens.access_token}` }
    assert.equal(await refused({ ...auth, dpop: await proofFor(stranger, url.href) }, /another key/), 'invalid_dpop_proof')
    assert.equal(await refused({ ...auth, dpop: await proofFor(stranger, `${server.issuer}/signatures/other`) }, /another URL/), 'invalid_dpop_proof')
    assert.equal(await refused({ ...auth, dpop: 'not.a.jwt' }, /not valid/), 'invalid_dpop_proof')
    const once = await proofFor(keyPair, url.href)
    assert.equal((await fetch(url, { headers: { ...auth, dpop: once } })).status, 200, 'a proof of its own')
    assert.equal(await refused({ ...auth, dpop: once }, /used before/), 'invalid_dpop_proof')
  })

  it('verifies a signature; a changed document does not; a revocation after signing shows as revoked now', async () => {
    const holder = await h.subscriber()
    const { evidence, tokens } = await signing.sign(rp, holder)
    const archived = await (await fetch(`${server.url}/signatures/${evidence.signature_id}`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).json() as Record<string, any>

    const report = await verify(archived)
    assert.equal(report.valid, true, JSON.stringify(report.checks))
    assert.equal(report.valid_at_signing, true)
    assert.equal(report.status_now, 'good')
    assert.equal(report.signer.serial, holder.certificate.serial)
    assert.equal(report.documents[0].text_matches, true)
    assert.equal((await verify(evidence)).valid_at_signing, true, 'the token response\'s entry is evidence too')

    const changed = structuredClone(archived)
    changed.request.documents[0].text = CONTRACT.replace('1,500,000', '15,000,000')
    const refused = await verify(changed)
    assert.equal(refused.valid, false)
    assert.equal(refused.documents[0].text_matches, false)

    const forged = structuredClone(archived)
    forged.payload = forged.payload.replace('"1500000"', '"1500001"')
    assert.equal((await verify(forged)).valid, false, 'a changed transaction')

    await server.ctx.authority.revoke(holder.certificate.serial, 'keyCompromise')
    const later = await verify(archived)
    assert.equal(later.valid_at_signing, true, 'valid at signing')
    assert.equal(later.status_now, 'revoked', 'revoked now')
    assert.equal(later.revocation_reason, 'keyCompromise')
  })

  it('fails evidence whose copied fields disagree with what is signed, naming the field; reports signed values only', async () => {
    const holder = await h.subscriber()
    const { evidence, tokens } = await signing.sign(rp, holder)
    const archived = await (await fetch(`${server.url}/signatures/${evidence.signature_id}`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).json() as Record<string, any>
    const clean = await verify(archived)
    assert.equal(clean.valid, true, JSON.stringify(clean.checks))
    assert.deepEqual(clean.checks.find((c: { name: string }) => c.name === 'evidence'), { name: 'evidence', ok: true })

    const tampered: [string, (e: Record<string, any>) => void, string][] = [
      ['the archive\'s amount', (e) => { e.request.transaction.amount = '15000000' }, 'request.transaction.amount'],
      ['the archive\'s payee', (e) => { e.request.transaction.payee = '사기계좌' }, 'request.transaction.payee'],
      ['the archive\'s title', (e) => { e.request.documents[0].title = '단순 안내문' }, 'request.documents[0].title'],
      ['the signing time', (e) => { e.signed_at = '2020-01-01T00:00:00.000Z' }, 'signed_at'],
      ['the signer', (e) => { e.certificate_serial = 'abcdef' }, 'certificate_serial'],
      ['the institution', (e) => { e.client_id = 'another-bank' }, 'client_id'],
      ['a member never written', (e) => { e.amount_in_words = '일천오백만원' }, 'amount_in_words (not a member of evidence)'],
      ['a fraction where a string is signed', (e) => { e.request.transaction.amount = 1500000.5 }, 'request.transaction.amount'],
      ['a serial that is a number', (e) => { e.certificate_serial = 12345 }, 'certificate_serial'],
      ['the signing time in another form', (e) => { e.signed_at = new Date(e.signed_at).toUTCString() }, 'signed_at'],
      ['a document never signed', (e) => { e.request.documents.push({ title: '부속 약관', text: '추가 조항', sha256: 'A'.repeat(43) }) }, 'request.documents (2 documents, 1 signed)'],
    ]
    for (const [what, tamper, field] of tampered) {
      const changed = structuredClone(archived)
      tamper(changed)
      const report = await verify(changed)
      assert.equal(report.valid, false, what)
      const failed = report.checks.find((c: { name: string; ok: boolean }) => c.name === 'evidence')
      assert.equal(failed.ok, false, what)
      assert.match(failed.detail, new RegExp(`(^|[ :,])${field.replace(/[[\]().]/g, '\\$&')}(,|$)`), what)
      assert.equal(report.transaction.amount, '1500000', `${what}: the report shows the signed amount`)
      assert.equal(report.documents[0].title, JSON.parse(archived.payload).documents[0].title, `${what}: the report shows the signed title`)
    }
    const text = structuredClone(archived)
    text.request.documents[0].text = CONTRACT.replace('1,500,000', '15,000,000')
    const changedText = (await verify(text)).checks.find((c: { name: string }) => c.name === 'documents')
    assert.deepEqual(changedText, { name: 'documents', ok: false, detail: 'not the text signed: request.documents[0].text' }, 'a changed text, named')

    // The token response's entry: its documents and transaction are copies too.
    for (const [tamper, field] of [
      [(e: Record<string, any>) => { e.transaction.amount = '1' }, 'transaction.amount'],
      [(e: Record<string, any>) => { e.documents[0].title = '다른 문서' }, 'documents[0].title'],
      [(e: Record<string, any>) => { e.payload_sha256 = 'A'.repeat(43) }, 'payload_sha256'],
    ] as const) {
      const changed = structuredClone(evidence) as Record<string, any>
      tamper(changed)
      const report = await verify(changed)
      assert.equal(report.valid, false, field)
      assert.match(report.checks.find((c: { name: string }) => c.name === 'evidence').detail, new RegExp(field.replace(/[[\]().]/g, '\\$&')))
    }
    assert.equal((await verify(evidence)).valid, true)
  })

  it('still verifies a receipt once its OIDC key has left the JWKS (receipt keys are kept)', async () => {
    const holder = await h.subscriber()
    const { evidence } = await signing.sign(rp, holder)
    const { kid } = JSON.parse(Buffer.from(String(evidence.receipt).split('.')[0]!, 'base64url').toString()) as { kid: string }
    // Two rotations, the second after the first's retired key has served its time: it is deleted.
    await server.ctx.signingKeys.rotate()
    clock.advance(30 * 86_400)
    try {
      await server.ctx.signingKeys.rotate()
      await server.ctx.host.refresh()
      const jwks = await (await fetch(`${server.url}/jwks`)).json() as { keys: { kid: string }[] }
      assert.ok(!jwks.keys.some((k) => k.kid === kid), 'the key left the JWKS')
      const kept = await (await fetch(`${server.url}/signatures/keys`)).json() as { keys: { kid: string; d?: string }[] }
      assert.ok(kept.keys.some((k) => k.kid === kid && !k.d), 'its public part stays at /signatures/keys')
      const report = await verify(evidence)
      assert.equal(report.valid, true, JSON.stringify(report.checks))
    } finally {
      clock.advance(-30 * 86_400)
    }
  })

  it('does not call evidence valid without the CMS, with another signature than the receipt\'s, or with a payload of the wrong shape', async () => {
    const holder = await h.subscriber()
    const { evidence } = await signing.sign(rp, holder)
    const { cms: _cms, ...withoutCms } = evidence.signature
    const noCms = await verify({ ...evidence, signature: withoutCms })
    assert.equal(noCms.valid, false)
    assert.match(JSON.stringify(noCms.checks), /CMS of the signature is missing/)

    const { evidence: another } = await signing.sign(rp, holder)
    const swapped = await verify({ ...evidence, signature: another.signature })
    assert.equal(swapped.valid, false, 'a signature that is not the receipt\'s')

    const odd = await verify({ ...evidence, payload: '{"documents":"x","v":1}', request: { documents: [{ text: 5 }] } })
    assert.equal(odd.valid, false)
    assert.equal(odd.status_now, undefined, 'no status for a certificate not shown to be PostCert\'s')
  })

  it('refuses what is not evidence, with a reason', async () => {
    const res = await fetch(`${server.url}/signatures/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"payload": 1}' })
    assert.equal(res.status, 400)
    assert.equal((await res.json() as { error: string }).error, 'invalid_request')
  })

  it('postcert verify checks a file offline with the CA chain and the JWKS', async () => {
    const holder = await h.subscriber()
    const { evidence } = await signing.sign(rp, holder)
    const dir = tempDir()
    const file = (name: string, content: string) => { fs.writeFileSync(path.join(dir, name), content); return path.join(dir, name) }
    const ca = file('ca.pem', await (await fetch(`${server.url}/pki/ca.pem`)).text())
    const jwks = file('jwks.json', await (await fetch(`${server.url}/jwks`)).text())
    const good = await runCli(['verify', file('good.json', JSON.stringify(evidence)), '--ca', ca, '--jwks', jwks], {})
    assert.equal(good.code, 0, good.stderr)
    assert.match(good.stdout, /valid at signing/)
    assert.match(good.stdout, new RegExp(`serial ${holder.certificate.serial}, certificate file`))

    const tampered = { ...evidence, payload: evidence.payload.replace('"KRW"', '"USD"') }
    const bad = await runCli(['verify', file('bad.json', JSON.stringify(tampered)), '--ca', ca, '--jwks', jwks, '--json'], {})
    assert.equal(bad.code, 1)
    assert.equal(JSON.parse(bad.stdout).valid, false)
    // The entry's own copy of the amount changed, the signed bytes not: refused, the field named, the signed amount shown.
    const copied = structuredClone(evidence) as Record<string, any>
    copied.transaction.amount = '15000000'
    const misleading = await runCli(['verify', file('copied.json', JSON.stringify(copied)), '--ca', ca, '--jwks', jwks], {})
    assert.equal(misleading.code, 1)
    assert.match(misleading.stdout, /NOT VALID/)
    assert.match(misleading.stdout, /evidence FAILED: not what is signed: transaction\.amount/)
    assert.match(misleading.stdout, /transaction 1500000 KRW/)

    const missing = await runCli(['verify', path.join(dir, 'nothing.json'), '--ca', ca, '--jwks', jwks], {})
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /cannot read/)
    const notJwks = await runCli(['verify', path.join(dir, 'good.json'), '--ca', ca, '--jwks', file('null.json', 'null')], {})
    assert.equal(notJwks.code, 2)
    assert.match(notJwks.stderr, /not a JWKS/)
    const notCa = await runCli(['verify', path.join(dir, 'good.json'), '--ca', file('empty.pem', 'nothing'), '--jwks', jwks], {})
    assert.equal(notCa.code, 2)
    assert.match(notCa.stderr, /no PEM certificates/)
  })

  it('postcert verify reads the trust anchors and the status now from the database', async (t) => {
    if (!server.database.url) return t.skip('needs PostgreSQL (DATABASE_URL): the CLI is a second process on the same database')
    const holder = await h.subscriber()
    const { evidence } = await signing.sign(rp, holder)
    await server.ctx.authority.revoke(holder.certificate.serial, 'affiliationChanged')
    const file = path.join(tempDir(), 'evidence.json')
    fs.writeFileSync(file, JSON.stringify(evidence))
    const env = { ...server.database.env, POSTCERT_MASTER_KEY: server.masterKey.toString('base64'), DATA_DIR: tempDir() }
    const out = await runCli(['verify', file], env)
    assert.equal(out.code, 0, out.stderr)
    assert.match(out.stdout, /valid at signing/)
    assert.match(out.stdout, /status now  revoked since .* \(affiliationChanged\)/)
  })

  it('postcert verify sets nothing up: pointed at an empty database, it fails and leaves it empty', async (t) => {
    if (!server.database.url) return t.skip('needs PostgreSQL (DATABASE_URL): an empty schema of its own')
    const holder = await h.subscriber()
    const { evidence } = await signing.sign(rp, holder)
    const file = path.join(tempDir(), 'evidence.json')
    fs.writeFileSync(file, JSON.stringify(evidence))
    const empty = await createTestSchema()
    const db = connectDatabase({ kind: 'postgres', url: empty.ownerUrl })
    try {
      const out = await runCli(['verify', file], { ...empty.env, POSTCERT_MASTER_KEY: server.masterKey.toString('base64'), DATA_DIR: tempDir() })
      assert.notEqual(out.code, 0)
      assert.doesNotMatch(out.stderr, /^\s+at /m, 'no stack trace')
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from information_schema.tables where table_schema = ${empty.schema}`.execute(db)
      assert.equal(rows[0]!.n, 0, 'no table was created, no migration run')
    } finally {
      await db.destroy()
      await empty.dropSchema()
    }
  })
})
