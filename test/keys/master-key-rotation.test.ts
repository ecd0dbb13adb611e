// Rotating the master key: sealed values name the key that sealed them; with the new key in
// POSTCERT_MASTER_KEY and the old one in POSTCERT_PREVIOUS_MASTER_KEYS everything still opens,
// `postcert secrets rewrap` re-seals every table's values with the new key, and then the old
// key can go. Values sealed before key ids (v1) open and are rewrapped too.
import assert from 'node:assert/strict'
import { createCipheriv, randomBytes } from 'node:crypto'
import { after, describe, it } from 'node:test'
import pino from 'pino'
import { buildConfig } from '../../src/config/config.ts'
import { AppContext } from '../../src/context.ts'
import { masterKeyId, SealedBox, UnsealError } from '../../src/keys/sealed-box.ts'
import { MasterKeyMismatchError } from '../../src/keys/secret-store.ts'
import { BACKENDS, createTestSchema } from '../helpers/db.ts'
import { runCli } from '../helpers/process.ts'
import { tempDir } from '../helpers/server.ts'

/** A value as PostCert sealed it before key ids: `v1.<iv | ciphertext | tag>`. */
function sealV1(key: Buffer, plaintext: string, context: string): string {
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', key, iv)
  cipher.setAAD(Buffer.from(context))
  return `v1.${Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]).toString('base64url')}`
}

describe('the sealed box', () => {
  it('names its key in what it seals, opens with the previous keys, and says which key is missing', () => {
    const [a, b] = [randomBytes(32), randomBytes(32)]
    const old = new SealedBox(a)
    const sealed = old.seal('secret', 'row:1')
    assert.match(sealed, new RegExp(`^v2\\.${masterKeyId(a)}\\.`))
    const rotated = new SealedBox(b, [a])
    assert.equal(rotated.openText(sealed, 'row:1'), 'secret')
    assert.equal(rotated.isCurrent(sealed), false)
    const resealed = rotated.reseal(sealed, 'row:1')
    assert.match(resealed, new RegExp(`^v2\\.${masterKeyId(b)}\\.`))
    assert.equal(new SealedBox(b).openText(resealed, 'row:1'), 'secret')
    assert.throws(() => new SealedBox(b).open(sealed, 'row:1'), (err: Error) => err instanceof UnsealError && err.message.includes(masterKeyId(a)))
    assert.throws(() => rotated.open(resealed, 'row:2'), UnsealError, 'still bound to its row')
    assert.equal(rotated.openText(sealV1(a, 'legacy', 'row:3'), 'row:3'), 'legacy')
    assert.throws(() => new SealedBox(b).open(sealV1(a, 'legacy', 'row:3'), 'row:3'), UnsealError)
  })
})

for (const backend of BACKENDS) {
  describe(`rotating the master key (${backend})`, () => {
    const cleanups: (() => Promise<unknown>)[] = []
    after(async () => { for (const c of cleanups.reverse()) await c() })

    it('keeps every key and secret usable through the rotation, and rewrap leaves nothing under the old key', async () => {
      const dataDir = tempDir()
      const env: Record<string, string> = { NODE_ENV: 'test', PORT: '0', ADMIN_PORT: 'off', DATA_DIR: dataDir }
      if (backend === 'postgres') {
        const schema = await createTestSchema()
        cleanups.push(schema.dropSchema)
        Object.assign(env, schema.env)
      }
      const [a, b] = [randomBytes(32), randomBytes(32)]
      const open = async (keys: Buffer[]) => await AppContext.fromConfig(buildConfig(env), { masterKey: keys[0]!, previousMasterKeys: keys.slice(1) }, { logger: pino({ level: 'silent' }), tool: true })

      // Under key A: a client with a secret, a session (a sealed id), the CA and signing keys, and a value sealed before key ids.
      const first = await open([a])
      const client = await first.clients.add({ name: '회전 은행', redirectUris: ['https://rotate.example.kr/cb'] })
      const session = new first.host.provider.Session()
      session.accountId = 'ps_rotation'
      await session.save(600)
      const issuingBefore = (await first.ca.issuing()).id
      const jwksBefore = (await first.signingKeys.publishedJwks()).map((k) => k.kid)
      await first.db.insertInto('server_secret').values({ name: 'legacy', sealed_value: sealV1(a, 'from v1', 'server_secret:legacy') }).execute()
      // A CA import waiting for its second operator carries its key, sealed to the request.
      const pending = 'apr_rotation'
      await first.db.insertInto('operator_approval').values({
        id: pending, action: 'importCa', status: 'pending', requested_by: 'cli', requested_at: new Date(), expires_at: new Date(Date.now() + 3_600_000),
        params: JSON.stringify({ chain_pem: '-', issuing_subject: 'CN=x', issuing_sha256: '00', sealed_key: first.box.seal(Buffer.from('the key PEM'), `operator_approval:${pending}:key`) }),
        decided_by: null, decided_at: null, result: null,
      }).execute()
      await first.close()

      // The new key alone does not open the database.
      await assert.rejects(open([b]), MasterKeyMismatchError)

      // The new key with the old one as previous: everything opens; new values are sealed with the new key.
      const during = await open([b, a])
      const stored = async (ctx: AppContext) => (await ctx.host.provider.Client.find(client.client_id))!.clientSecret
      assert.equal(await stored(during), client.client_secret)
      assert.equal(await during.secrets.getOrCreate('legacy', () => 'x'), 'from v1')
      assert.equal((await during.ca.issuing()).id, issuingBefore)
      assert.deepEqual((await during.signingKeys.publishedJwks()).map((k) => k.kid), jwksBefore)
      assert.equal(await during.secrets.sealedWithPreviousKey(), true)
      await during.close()

      // The rewrap, as the operator runs it.
      const cli = { ...env, POSTCERT_MASTER_KEY: b.toString('base64url'), POSTCERT_PREVIOUS_MASTER_KEYS: a.toString('base64url') }
      const refused = await runCli(['secrets', 'rewrap'], cli)
      assert.equal(refused.code, 2, 'asks first')
      const rewrap = await runCli(['secrets', 'rewrap', '--yes', '--json'], cli)
      assert.equal(rewrap.code, 0, rewrap.stderr)
      const counts = JSON.parse(rewrap.stdout) as { table: string; rewrapped: string; sealed_values: string }[]
      assert.deepEqual(counts.map((c) => c.table), ['server_secret', 'signing_key', 'ca_certificate', 'oidc_payload', 'operator_approval'])
      for (const c of counts) assert.ok(Number(c.rewrapped) > 0 && Number(c.rewrapped) <= Number(c.sealed_values), JSON.stringify(c))
      assert.deepEqual(counts.map((c) => (c as unknown as { remaining: string }).remaining), ['0', '0', '0', '0', '0'])
      const again = JSON.parse((await runCli(['secrets', 'rewrap', '--yes', '--json'], cli)).stdout) as { rewrapped: string }[]
      assert.deepEqual(again.map((c) => c.rewrapped), ['0', '0', '0', '0', '0'], 'nothing left under the old key')

      // An instance still sealing with the old key meanwhile (not restarted yet): the rewrap says so and fails, rather than clearing the old key for removal.
      const straggler = await open([a, b])
      await straggler.secrets.getOrCreate('sealed-by-a-straggler', () => 'late')
      await straggler.close()
      const unfinished = await runCli(['secrets', 'rewrap', '--yes'], cli)
      assert.equal(unfinished.code, 0, 'its own value is rewrapped in the same run')
      const bRow = await (async () => {
        const ctx = await open([b, a])
        try {
          return await ctx.db.selectFrom('server_secret').select('sealed_value').where('name', '=', 'sealed-by-a-straggler').executeTakeFirstOrThrow()
        } finally {
          await ctx.close()
        }
      })()
      assert.ok(bRow.sealed_value.startsWith(`v2.${masterKeyId(b)}.`))

      // The new key alone now opens everything, and every sealed value names it.
      const afterwards = await open([b])
      assert.equal(await stored(afterwards), client.client_secret)
      assert.equal(await afterwards.secrets.getOrCreate('legacy', () => 'x'), 'from v1')
      assert.equal((await afterwards.ca.issuing()).id, issuingBefore)
      assert.equal(await afterwards.secrets.sealedWithPreviousKey(), false)
      // The session's sealed id opens to its id, bound to its row, under the new key alone.
      const row = await afterwards.db.selectFrom('oidc_payload').select(['id', 'sealed_id']).where('model', '=', 'Session').where('sealed_id', 'is not', null).executeTakeFirstOrThrow()
      assert.equal(afterwards.box.openText(row.sealed_id!, `oidc_payload:Session:${row.id}:id`), session.jti)
      const db = afterwards.db
      const sealed = [
        ...(await db.selectFrom('server_secret').select('sealed_value as v').execute()).map((r) => r.v),
        ...(await db.selectFrom('signing_key').select('sealed_jwk as v').execute()).map((r) => r.v),
        ...(await db.selectFrom('ca_certificate').select('sealed_key as v').where('sealed_key', 'is not', null).execute()).map((r) => r.v!),
        ...(await db.selectFrom('oidc_payload').select('sealed_id as v').where('sealed_id', 'is not', null).execute()).map((r) => r.v!),
        ...(await db.selectFrom('oidc_payload').select('payload').where('model', '=', 'Client').execute()).map((r) => String((JSON.parse(r.payload) as { sealed_client_secret?: string }).sealed_client_secret ?? `v2.${masterKeyId(b)}.none`)),
      ]
      const approval = JSON.parse((await db.selectFrom('operator_approval').select('params').where('id', '=', pending).executeTakeFirstOrThrow()).params) as { sealed_key: string }
      sealed.push(approval.sealed_key)
      assert.equal(afterwards.box.open(approval.sealed_key, `operator_approval:${pending}:key`).toString(), 'the key PEM')
      assert.ok(sealed.length > 8)
      for (const value of sealed) assert.ok(value.startsWith(`v2.${masterKeyId(b)}.`), value.slice(0, 20))
      const audit = await db.selectFrom('audit_event').select('data').where('type', '=', 'operator.master_key_rewrapped').execute()
      assert.equal(audit.length, 3)
      assert.equal((JSON.parse(audit[0]!.data) as { actor: string }).actor, 'cli')
      await afterwards.close()

      // And the old key no longer does.
      await assert.rejects(open([a]), MasterKeyMismatchError)
    })
  })
}
