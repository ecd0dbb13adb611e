import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { after, before, describe, it } from 'node:test'
import { randomBytes } from 'node:crypto'
import { importHierarchy } from '../../src/ca/import.ts'
import { toPem } from '../../src/ca/x509.ts'
import { SealedBox } from '../../src/keys/sealed-box.ts'
import { createTestDatabase, migrateTestDatabase } from '../helpers/db.ts'
import { issueCertificate, openssl } from '../helpers/pki.ts'
import { approveAsAnotherOperator } from '../helpers/approval.ts'
import { newMasterKey, runCli, startServerProcess } from '../helpers/process.ts'
import { freePort, startTestServer, tempDir, type TestServer } from '../helpers/server.ts'

/** An operator's own root and issuing CA, made with openssl. */
async function operatorCa(dir: string, issuingUsage = 'keyCertSign,cRLSign,digitalSignature') {
  const f = (name: string) => path.join(dir, name)
  const run = async (args: string[]) => {
    const result = await openssl(args)
    assert.equal(result.code, 0, result.output)
  }
  await run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('root.key'), '-out', f('root.pem'),
    '-subj', '/C=KR/O=Test Bank/CN=Test Root', '-days', '3650', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'])
  await run(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('issuing.key'), '-out', f('issuing.csr'),
    '-subj', '/C=KR/O=Test Bank/CN=Test Issuing CA'])
  fs.writeFileSync(f('ext.cnf'), `basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,${issuingUsage}\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n`)
  await run(['x509', '-req', '-in', f('issuing.csr'), '-CA', f('root.pem'), '-CAkey', f('root.key'), '-CAcreateserial', '-out', f('issuing.pem'), '-days', '1825', '-extfile', f('ext.cnf')])
  fs.writeFileSync(f('chain.pem'), fs.readFileSync(f('issuing.pem'), 'utf8') + fs.readFileSync(f('root.pem'), 'utf8'))
  return { chain: f('chain.pem'), key: f('issuing.key'), root: f('root.pem'), rootKey: f('root.key') }
}

describe('postcert ca import', () => {
  it('replaces the generated CA with the operator\'s, and the server publishes it', async () => {
    const dir = tempDir('postcert-ca-')
    const files = await operatorCa(dir)
    const port = await freePort()
    const env = { DATA_DIR: tempDir(), POSTCERT_MASTER_KEY: newMasterKey(), PORT: String(port) }
    const asked = await runCli(['ca', 'import', '--chain', files.chain, '--key', files.key, '--yes'], env)
    assert.equal(asked.code, 0, asked.stderr)
    assert.match(asked.stdout, /^checked: issuing CA C=KR, O=Test Bank, CN=Test Issuing CA \(SHA-256 [0-9a-f]{64}\)\nasked as apr_/)
    // Dual control: nothing changes until a second operator approves; the one who asked cannot.
    assert.doesNotMatch((await runCli(['ca', 'show'], env)).stdout, /Test Bank/)
    const id = /asked as (apr_[\w-]+)/.exec(asked.stdout)![1]!
    const listed = JSON.parse((await runCli(['approvals', 'list', '--json'], env)).stdout) as { id: string; params: Record<string, unknown> }[]
    assert.deepEqual(Object.keys(listed.find((a) => a.id === id)!.params).sort(), ['chain_pem', 'issuing_sha256', 'issuing_subject', 'key'])
    assert.doesNotMatch(JSON.stringify(listed), /PRIVATE KEY|sealed_key/, 'the key is never shown, not even sealed')
    const own = await runCli(['approvals', 'approve', id, '--yes'], env)
    assert.deepEqual([own.code, own.stderr], [1, 'postcert: another operator must approve what you asked for (dual control)\n'])
    const approved = await approveAsAnotherOperator(env, asked.stdout)
    assert.equal(approved.status, 'executed')
    assert.equal(approved.params.key, 'a PEM key, removed when the request was decided', 'the request keeps no copy of the key')
    const shown = await runCli(['ca', 'show'], env)
    assert.match(shown.stdout, /root\s+\S+\s+C=KR, O=Test Bank, CN=Test Root .* offline/)
    assert.match(shown.stdout, /issuing\s+\S+\s+C=KR, O=Test Bank, CN=Test Issuing CA .* sealed/)
    const server = await startServerProcess(env)
    try {
      const published = await (await fetch(`http://127.0.0.1:${port}/pki/ca.pem`)).text()
      assert.equal(published.replace(/\s/g, ''), fs.readFileSync(files.chain, 'utf8').replace(/\s/g, ''))
    } finally {
      await server.stop()
    }
  })

  it('issues certificates under the imported CA that openssl verifies with the operator\'s root', async () => {
    const dir = tempDir('postcert-ca-')
    const files = await operatorCa(dir)
    const database = await createTestDatabase()
    await migrateTestDatabase(database)
    const masterKey = randomBytes(32)
    const box = new SealedBox(masterKey)
    await importHierarchy(database.db, box, { chainPem: fs.readFileSync(files.chain, 'utf8'), keyPem: fs.readFileSync(files.key, 'utf8') })
    const server = await startTestServer({ database, masterKey })
    try {
      const { certificate } = await issueCertificate(server.ctx.authority)
      fs.writeFileSync(path.join(dir, 'leaf.pem'), toPem(certificate.der, 'CERTIFICATE'))
      const verified = await openssl(['verify', '-CAfile', files.root, '-untrusted', files.chain, path.join(dir, 'leaf.pem')])
      assert.equal(verified.code, 0, verified.output)
    } finally {
      await server.close()
    }
  })

  describe('refusals', () => {
    let server: TestServer
    before(async () => { server = await startTestServer() })
    after(async () => { await server.close() })

    it('refuses a key that is not the issuing CA\'s, a CA without the usages it needs, and a broken chain', async () => {
      const good = await operatorCa(tempDir('postcert-ca-'))
      const chainPem = fs.readFileSync(good.chain, 'utf8')
      await assert.rejects(importHierarchy(server.ctx.db, server.ctx.box, { chainPem, keyPem: fs.readFileSync(good.rootKey, 'utf8') }), /does not belong to the issuing CA/)
      await assert.rejects(importHierarchy(server.ctx.db, server.ctx.box, { chainPem: fs.readFileSync(good.root, 'utf8'), keyPem: fs.readFileSync(good.key, 'utf8') }), /two certificates/)
      await assert.rejects(importHierarchy(server.ctx.db, server.ctx.box, { chainPem, keyPem: 'nonsense' }), /not a PEM private key/)
      const other = await operatorCa(tempDir('postcert-ca-'))
      const mixed = fs.readFileSync(good.chain, 'utf8').split(/(?<=-----END CERTIFICATE-----\n)/)[0]! + fs.readFileSync(other.root, 'utf8')
      await assert.rejects(importHierarchy(server.ctx.db, server.ctx.box, { chainPem: mixed, keyPem: fs.readFileSync(good.key, 'utf8') }), /not signed by the root/)
      const noOcsp = await operatorCa(tempDir('postcert-ca-'), 'keyCertSign,cRLSign')
      await assert.rejects(importHierarchy(server.ctx.db, server.ctx.box, { chainPem: fs.readFileSync(noOcsp.chain, 'utf8'), keyPem: fs.readFileSync(noOcsp.key, 'utf8') }), /digitalSignature/)
    })

    it('refuses once certificates have been issued', async () => {
      await issueCertificate(server.ctx.authority)
      const files = await operatorCa(tempDir('postcert-ca-'))
      await assert.rejects(
        importHierarchy(server.ctx.db, server.ctx.box, { chainPem: fs.readFileSync(files.chain, 'utf8'), keyPem: fs.readFileSync(files.key, 'utf8') }),
        /already been issued/,
      )
    })
  })
})
