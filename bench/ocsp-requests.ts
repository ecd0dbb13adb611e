// OCSP requests for the benchmark's certificates, made by openssl as a relying party's would be:
// GET paths without a nonce (answered pre-signed) and one POST body with a nonce per certificate
// (answered live). Used by bench/run.ts and bench/scale-out.ts.
import fs from 'node:fs'
import path from 'node:path'
import { toPem } from '../src/ca/x509.ts'
import type { Holder } from './flows.ts'
import { openssl } from '../test/helpers/pki.ts'
import { tempDir } from '../test/helpers/server.ts'

/** OCSP requests made by openssl: one with a nonce (answered live), and GET paths without (pre-signed). */
export async function ocspRequestsFor(certificates: Holder[]): Promise<{ withNonce: Buffer; get: string[] }> {
  const dir = tempDir('postcert-bench-ocsp-')
  const file = (name: string) => path.join(dir, name)
  fs.writeFileSync(file('issuing.pem'), toPem(certificates[0]!.chain[1]!, 'CERTIFICATE'))
  const get: string[] = []
  for (const [i, holder] of certificates.entries()) {
    fs.writeFileSync(file(`${i}.pem`), toPem(holder.chain[0]!, 'CERTIFICATE'))
    await openssl(['ocsp', '-no_nonce', '-issuer', file('issuing.pem'), '-cert', file(`${i}.pem`), '-reqout', file(`${i}.req`)])
    get.push(`/pki/ocsp/${encodeURIComponent(fs.readFileSync(file(`${i}.req`)).toString('base64'))}`)
  }
  await openssl(['ocsp', '-issuer', file('issuing.pem'), '-cert', file('0.pem'), '-reqout', file('nonce.req')])
  return { withNonce: fs.readFileSync(file('nonce.req')), get }
}
