// Certificate issuances per second (the internal API enrollment and renewal call, in process) and
// OCSP responses per second (HTTP, one PostCert process), on PostgreSQL. Run by hand:
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:ca -- [issuances] [seconds] [connections]
import fs from 'node:fs'
import path from 'node:path'
import autocannon from 'autocannon'
import { toPem } from '../src/ca/x509.ts'
import { createTestSchema, schemaDatabase } from '../test/helpers/db.ts'
import { issueCertificate, openssl, subscriberKey } from '../test/helpers/pki.ts'
import { startServerProcess } from '../test/helpers/process.ts'
import { freePort, startTestServer, tempDir } from '../test/helpers/server.ts'

const issuances = Number(process.argv[2] ?? 400)
const seconds = Number(process.argv[3] ?? 10)
const connections = Number(process.argv[4] ?? 16)
if (!process.env.DATABASE_URL) {
  console.error('set DATABASE_URL (the benchmark measures PostCert on PostgreSQL)')
  process.exit(2)
}

const schema = await createTestSchema()
const masterKey = Buffer.alloc(32, 7)
const server = await startTestServer({ database: schemaDatabase(schema), masterKey, env: { LOG_LEVEL: 'silent' } })
const authority = server.ctx.authority

// Keys are made up front: the benchmark measures the CA, not key generation.
const keys = Array.from({ length: issuances }, () => subscriberKey('p256'))
let next = 0
const started = process.hrtime.bigint()
await Promise.all(Array.from({ length: 8 }, async () => {
  while (next < keys.length) {
    const key = keys[next++]!
    await issueCertificate(authority, { key })
  }
}))
const elapsed = Number(process.hrtime.bigint() - started) / 1e9
console.log(`issuance (challenge + proof check + sign + commit with audit), 8 concurrent: ${(issuances / elapsed).toFixed(0)} certificates/s (${issuances} in ${elapsed.toFixed(2)} s)`)

// OCSP against a separate server process on the same database.
const dir = tempDir('postcert-bench-')
const { certificate } = await issueCertificate(authority)
fs.writeFileSync(path.join(dir, 'cert.pem'), toPem(certificate.der, 'CERTIFICATE'))
const ca = await server.ctx.ca.issuing()
fs.writeFileSync(path.join(dir, 'issuing.pem'), toPem(ca.certificate.rawData, 'CERTIFICATE'))
await openssl(['ocsp', '-issuer', path.join(dir, 'issuing.pem'), '-cert', path.join(dir, 'cert.pem'), '-reqout', path.join(dir, 'req.der')])
const request = fs.readFileSync(path.join(dir, 'req.der'))
await server.close()

const port = await freePort()
const env = { ...schema.env, PORT: String(port), DATA_DIR: dir, POSTCERT_MASTER_KEY: masterKey.toString('base64url'), LOG_LEVEL: 'warn' }
const ocspServer = await startServerProcess(env)
try {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/pki/ocsp`, method: 'POST', duration: seconds, connections,
    headers: { 'content-type': 'application/ocsp-request' }, body: request,
  })
  console.log(`OCSP (POST, one certificate, nonce, live status from PostgreSQL): ${result.requests.average.toFixed(0)} responses/s   p50 ${result.latency.p50} ms   p99 ${result.latency.p99} ms   errors ${result.non2xx + result.errors}`)
} finally {
  await ocspServer.stop()
  await schema.dropSchema()
}
