// `postcert verify FILE`: checks signature evidence (a token response's authorization_details entry,
// or what GET /signatures/{id} returns) without a running server.
import fs from 'node:fs'
import { X509Certificate } from 'node:crypto'
import type { JWK } from 'jose'
import type { Verifier } from '../context.ts'
import { trustAnchors } from '../signing/anchors.ts'
import { isEvidence, verifyEvidence, withStatusNow, type StatusNow, type VerificationReport } from '../signing/verify.ts'

/** Thrown for a file or option the operator must fix (exit code 2). */
export class VerifyUsageError extends Error {}

export interface VerifyOptions {
  file: string
  json: boolean
  /** Trust anchors from files instead of the database: CA chain (PEM) and JWKS (JSON). */
  caFile?: string
  jwksFile?: string
}

/** Returns the exit code: 0 when the signature was valid at signing, 1 when not. */
export async function verifyCommand(options: VerifyOptions, openVerifier: () => Verifier): Promise<number> {
  const evidence = readJson(options.file)
  if (!isEvidence(evidence)) {
    throw new VerifyUsageError(`${options.file}: not signature evidence (payload, signature and receipt expected)`)
  }
  let report: VerificationReport & StatusNow
  if (options.caFile || options.jwksFile) {
    // Only from the files given: nothing is asked of PostCert, so the status now is not known.
    if (!options.caFile || !options.jwksFile) throw new VerifyUsageError('verify: --ca and --jwks go together')
    const pems = readText(options.caFile).match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
    const caCertificates = pems.map((pem) => {
      try {
        return new Uint8Array(new X509Certificate(pem).raw)
      } catch {
        throw new VerifyUsageError(`${options.caFile}: a certificate in it cannot be read`)
      }
    })
    if (!caCertificates.length) throw new VerifyUsageError(`${options.caFile}: no PEM certificates in it`)
    const jwks = readJson(options.jwksFile) as { keys?: unknown } | null
    if (typeof jwks !== 'object' || jwks === null || !Array.isArray(jwks.keys)) throw new VerifyUsageError(`${options.jwksFile}: not a JWKS ({"keys": [...]})`)
    report = await verifyEvidence(evidence, { caCertificates, receiptKeys: jwks.keys as JWK[] })
  } else {
    const ctx = openVerifier()
    try {
      report = await withStatusNow(await verifyEvidence(evidence, await trustAnchors(ctx)), (serial) => ctx.judgeCertificate(serial))
    } finally {
      await ctx.close()
    }
  }
  process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : describe(report))
  return report.valid_at_signing ? 0 : 1
}

function describe(r: VerificationReport & StatusNow): string {
  const verdict = r.valid_at_signing ? 'valid at signing' : r.valid ? 'signature valid, but the certificate was not in good standing at signing' : 'NOT VALID'
  const lines = [`signature ${r.signature_id ?? '(no id)'}: ${verdict}`]
  const row = (label: string, value: string | undefined) => { if (value) lines.push(`  ${label.padEnd(12)}${value}`) }
  row('signed at', r.signed_at)
  row('signer', r.signer && `${r.signer.subject} (serial ${r.signer.serial}, ${r.signer.holder === 'passkey' ? 'passkey' : 'certificate file'})`)
  row('institution', r.institution)
  for (const d of r.documents ?? []) row('document', `${d.title} (SHA-256 ${d.sha256}${d.text_matches === undefined ? '' : d.text_matches ? ', text matches' : ', TEXT DIFFERS'})`)
  row('transaction', r.transaction && `${r.transaction.amount} ${r.transaction.currency} to ${r.transaction.payee} (${r.transaction.account})`)
  row('status now', r.status_now && `${r.status_now}${r.revoked_at ? ` since ${r.revoked_at}${r.revocation_reason ? ` (${r.revocation_reason})` : ''}` : ''}`)
  row('checks', r.checks.map((c) => `${c.name} ${c.ok ? 'ok' : `FAILED: ${c.detail ?? ''}`}`).join('; '))
  return `${lines.join('\n')}\n`
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch (err) {
    throw new VerifyUsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code}`)
  }
}

function readJson(file: string): unknown {
  const text = readText(file)
  try {
    return JSON.parse(text)
  } catch {
    throw new VerifyUsageError(`${file} is not JSON`)
  }
}
