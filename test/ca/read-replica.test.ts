import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { canonicalSerial, x509 } from '../../src/ca/x509.ts'
import { OCSP_VERSION_CHECK_MS, REPLICA_RECHECK_MS } from '../../src/ca/constants.ts'
import { CrlPublisher } from '../../src/ca/crl.ts'
import { OcspResponder, singleStatus } from '../../src/ca/ocsp.ts'
import { StatusSource } from '../../src/ca/status-version.ts'
import { connectDatabase } from '../../src/db/connect.ts'
import type { Database } from '../../src/db/database.ts'
import pg from 'pg'
import { createTestSchema, NEEDS_POSTGRES } from '../helpers/db.ts'
import { issueCertificate } from '../helpers/pki.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

/** Counts the statements that read the certificate table (in their from or a join) on one database. */
function counted(db: Database): { db: Database; certificateReads: () => number } {
  let reads = 0
  const counting = db.withPlugin({
    transformQuery: (args) => {
      if (args.node.kind === 'SelectQueryNode' && JSON.stringify(args.node).includes('"certificate"')) reads++
      return args.node
    },
    transformResult: async (args) => args.result,
  })
  return { db: counting, certificateReads: () => reads }
}

/**
 * Certificate status reads from a streaming replica (DATABASE_READ_URL): used once it has
 * replayed the status version the database is at, passed over while behind or failing. The
 * replica here is a second schema that a test "replays" into by copying the two tables the reads
 * use, at moments the test chooses (a real streaming replica: npm run bench:scale-out -- --replica).
 */
describe('certificate status reads from a read replica (#19)', { skip: NEEDS_POSTGRES }, () => {
  let server: TestServer
  let admin: pg.Client
  let replicaSchema: Awaited<ReturnType<typeof createTestSchema>>
  let replicaDb: Database
  let primarySchema: string
  const replicaErrors: unknown[] = []
  let primary: ReturnType<typeof counted>
  let replica: ReturnType<typeof counted>
  let responder: OcspResponder
  let source: StatusSource

  /**
   * What a replica shows after replaying everything committed so far; then a pause, as replay
   * takes in life (a replica found behind is asked again after REPLICA_RECHECK_MS).
   */
  async function replay(): Promise<void> {
    await admin.query('begin')
    for (const table of ['certificate', 'certificate_status_version']) {
      await admin.query(`delete from ${replicaSchema.schema}.${table}`)
      await admin.query(`insert into ${replicaSchema.schema}.${table} select * from ${primarySchema}.${table}`)
    }
    await admin.query('commit')
    await new Promise((resolve) => setTimeout(resolve, REPLICA_RECHECK_MS + 20))
  }

  const status = async (serial: string) => singleStatus(await responder.respondForSerial(serial))
  const waitVersionCheck = () => new Promise((resolve) => setTimeout(resolve, OCSP_VERSION_CHECK_MS + 100))

  before(async () => {
    server = await startTestServer({ backend: 'postgres' })
    primarySchema = /search_path=(\w+)/.exec(decodeURIComponent(server.database.url!))![1]!
    admin = new pg.Client({ connectionString: process.env.DATABASE_URL })
    await admin.connect()
    replicaSchema = await createTestSchema()
    for (const table of ['certificate', 'certificate_status_version']) {
      await admin.query(`create table ${replicaSchema.schema}.${table} (like ${primarySchema}.${table} including all)`)
    }
    replicaDb = connectDatabase({ kind: 'postgres', url: replicaSchema.ownerUrl })
    primary = counted(server.ctx.db)
    replica = counted(replicaDb)
    source = new StatusSource(primary.db, replica.db, { onReplicaError: (err) => replicaErrors.push(err) })
    responder = new OcspResponder(primary.db, server.ctx.ca, server.ctx.clock, { validitySeconds: 300, source })
  })
  after(async () => {
    await replicaDb.destroy()
    await replicaSchema.dropSchema()
    await admin.end()
    await server.close()
  })

  it('reads a status from the replica once it has replayed the version, from the database while it is behind', async () => {
    const { certificate } = await issueCertificate(server.ctx.authority)
    await replay()
    const [p0, r0] = [primary.certificateReads(), replica.certificateReads()]
    assert.equal(await status(certificate.serial), 'good')
    assert.equal(replica.certificateReads(), r0 + 1, 'the replica answered')
    assert.equal(primary.certificateReads(), p0, 'not the database')

    // Revoked by another instance (this responder is not told): within a second it learns the
    // version from the database, finds the replica behind it, and asks the database.
    await server.ctx.authority.revoke(certificate.serial, 'keyCompromise')
    await waitVersionCheck()
    const p1 = primary.certificateReads()
    assert.equal(await status(certificate.serial), 'revoked')
    assert.equal(primary.certificateReads(), p1 + 1, 'the database answered: the replica has not replayed the revocation')

    await replay()
    const r2 = replica.certificateReads()
    assert.equal(await status(certificate.serial), 'revoked')
    assert.equal(replica.certificateReads(), r2 + 1, 'the replica again, now that it has caught up')
    assert.deepEqual(replicaErrors, [])
  })

  it('passes over the replica at once after a status change on this instance', async () => {
    const { certificate } = await issueCertificate(server.ctx.authority)
    await replay()
    assert.equal(await status(certificate.serial), 'good')
    await server.ctx.authority.suspend(certificate.serial)
    responder.statusChanged() // what CertificateAuthority's statusCommitted hook does on this instance
    const p0 = primary.certificateReads()
    assert.equal(await status(certificate.serial), 'revoked', 'suspended (certificateHold), without waiting for the version check')
    assert.equal(primary.certificateReads(), p0 + 1)
  })

  it('checks each answer of the replica against the version: an older replica behind the same URL (a pool) is passed over', async () => {
    const { certificate } = await issueCertificate(server.ctx.authority)
    await replay()
    const older = await admin.query<{ version: string }>(`select version from ${replicaSchema.schema}.certificate_status_version`)
    await server.ctx.authority.revoke(certificate.serial, 'keyCompromise')
    responder.statusChanged()
    await replay()
    const r0 = replica.certificateReads()
    assert.equal(await status(certificate.serial), 'revoked')
    assert.equal(replica.certificateReads(), r0 + 1, 'a replica that has caught up answered')

    // The next connection reaches a replica that has not replayed the revocation yet.
    await admin.query(`update ${replicaSchema.schema}.certificate_status_version set version = $1`, [older.rows[0]!.version])
    await admin.query(`update ${replicaSchema.schema}.certificate set status = 'good', revoked_at = null, revocation_reason = null where serial = $1`, [certificate.serial])
    const p1 = primary.certificateReads()
    assert.equal(await status(certificate.serial), 'revoked', 'never the older replica\'s good')
    assert.equal(primary.certificateReads(), p1 + 1, 'the database answered')
  })

  it('looks in the database for a certificate the replica does not have yet', async () => {
    await replay()
    const { certificate } = await issueCertificate(server.ctx.authority) // issuance does not move the status version
    const [p0, r0] = [primary.certificateReads(), replica.certificateReads()]
    assert.equal(await status(certificate.serial), 'good')
    assert.equal(replica.certificateReads(), r0 + 1, 'asked the replica first')
    assert.equal(primary.certificateReads(), p0 + 1, 'then the database, which has it')
  })

  it('builds the CRL from the replica when it has caught up, from the database when not', async () => {
    const { certificate } = await issueCertificate(server.ctx.authority)
    await server.ctx.authority.revoke(certificate.serial, 'cessationOfOperation')
    const crl = new CrlPublisher(primary.db, server.ctx.ca, server.ctx.clock, { issuer: server.ctx.config.issuer, minIntervalSeconds: 0, source })
    // Serials as PostCert writes them (canonicalSerial: lower case, no leading zeros; DER may add one).
    const listed = async () => new x509.X509Crl((await crl.current()).der).entries.map((e) => canonicalSerial(e.serialNumber))
    let [p0, r0] = [primary.certificateReads(), replica.certificateReads()]
    assert.ok((await listed()).includes(certificate.serial), 'listed')
    assert.equal(replica.certificateReads(), r0, 'the replica is behind the revocation: not read')
    assert.ok(primary.certificateReads() > p0)

    await replay()
    const other = await issueCertificate(server.ctx.authority)
    await server.ctx.authority.revoke(other.certificate.serial, 'superseded')
    await replay()
    ;[p0, r0] = [primary.certificateReads(), replica.certificateReads()]
    assert.ok((await listed()).includes(other.certificate.serial), 'the new revocation is listed')
    assert.ok(replica.certificateReads() > r0, 'scanned on the replica')
    assert.equal(primary.certificateReads(), p0, 'not on the database')
  })

  it('answers from the database when the replica is down, and does not wait for it on every request', async () => {
    const { certificate } = await issueCertificate(server.ctx.authority)
    const down = connectDatabase({ kind: 'postgres', url: 'postgres://postgres@127.0.0.1:1/none' })
    const errors: unknown[] = []
    const unreachable = new OcspResponder(server.ctx.db, server.ctx.ca, server.ctx.clock, { validitySeconds: 300, source: new StatusSource(server.ctx.db, down, { onReplicaError: (err) => errors.push(err) }) })
    try {
      for (let i = 0; i < 3; i++) assert.equal(singleStatus(await unreachable.respondForSerial(certificate.serial)), 'good')
      assert.equal(errors.length, 1, 'reported once, then left alone for a while')
    } finally {
      await down.destroy()
    }
  })
})
