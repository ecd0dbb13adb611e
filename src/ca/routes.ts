import type { Context } from 'koa'
import type { Router } from '../http/router.ts'
import { cache, noStore, revalidate, storeUntil, untilItExpires } from '../http/guards.ts'
import { readBody } from '../http/form.ts'
import { invalidRequest } from '../errors/errors.ts'
import type { CertificateAuthority } from './authority.ts'
import { CRL_PARTITIONS_MAX } from './constants.ts'
import type { Crl, CrlPublisher } from './crl.ts'
import { certificateNotFound } from './errors.ts'
import type { CaHierarchy } from './hierarchy.ts'
import type { OcspResponder } from './ocsp.ts'
import { toPem } from './x509.ts'

const MAX_OCSP_REQUEST_BYTES = 16 * 1024

export interface PkiDeps {
  hierarchy: CaHierarchy
  authority: CertificateAuthority
  crl: CrlPublisher
  ocsp: OcspResponder
}

/** Public status publication: the CA chain, the CRL, OCSP, and certificates by serial. */
export function addPkiRoutes(router: Router, deps: PkiDeps): void {
  router.add('GET', '/pki/ca.pem', 'pki_ca', cache('public, max-age=3600'), async (ctx) => {
    const ca = await deps.hierarchy.issuing()
    ctx.type = 'application/pem-certificate-chain'
    ctx.body = toPem(ca.certificate.rawData, 'CERTIFICATE') + toPem(ca.root.rawData, 'CERTIFICATE')
  })

  router.add('GET', '/pki/issuing.cer', 'pki_issuing', cache('public, max-age=3600'), async (ctx) => {
    const ca = await deps.hierarchy.issuing()
    ctx.type = 'application/pkix-cert'
    ctx.body = Buffer.from(ca.certificate.rawData)
  })

  router.add('GET', '/pki/crl', 'pki_crl', revalidate, async (ctx) => {
    serveCrl(ctx, await deps.crl.current())
  })

  // A partition's CRL (CRL_PARTITIONS): what its certificates name as their distribution point.
  router.add('GET', '/pki/crl/:partition', 'pki_crl', revalidate, async (ctx, { partition = '' }) => {
    if (!/^(0|[1-9][0-9]{0,3})$/.test(partition) || Number(partition) >= CRL_PARTITIONS_MAX) {
      throw invalidRequest(`the CRL partition must be a number from 0 to ${CRL_PARTITIONS_MAX - 1}`)
    }
    serveCrl(ctx, await deps.crl.current(Number(partition)))
  })

  // A POST's answer is never stored by HTTP caches (RFC 5019 5); a GET's pre-signed answer may be.
  router.add('POST', '/pki/ocsp', 'pki_ocsp', noStore, async (ctx) => {
    const body = await readBody(ctx, MAX_OCSP_REQUEST_BYTES)
    ctx.type = 'application/ocsp-response'
    ctx.body = await deps.ocsp.respond(body)
  })

  router.add('GET', '/pki/ocsp/*request', 'pki_ocsp', untilItExpires, async (ctx, { request = '' }) => {
    // RFC 6960 A.1: the DER request, base64, URL-encoded, as the last path segment(s).
    let der: Buffer
    try {
      der = Buffer.from(decodeURIComponent(request), 'base64')
    } catch {
      throw invalidRequest('the OCSP request is not URL-encoded base64')
    }
    const answer = await deps.ocsp.answer(der)
    // Caches may keep a pre-signed answer until its nextUpdate, and no longer.
    if (answer.presigned) storeUntil(ctx, answer.presigned)
    ctx.type = 'application/ocsp-response'
    ctx.body = answer.der
  })

  // A certificate's status by serial, for anyone (as OCSP gives it). Never the certificate itself:
  // its subject names the subscriber, and serials travel with signatures; the subscriber has it
  // (and /account serves it to them), an institution gets it with each signature.
  router.add('GET', '/pki/certificates/:serial', 'pki_certificate', revalidate, async (ctx, { serial = '' }) => {
    if (!/^[0-9a-fA-F]{1,64}$/.test(serial)) throw invalidRequest('the serial must be hexadecimal')
    const record = await deps.authority.find(serial)
    if (!record) throw certificateNotFound(serial)
    ctx.body = {
      serial: record.serial,
      status: record.status === 'hold' ? 'suspended' : record.status,
      not_before: record.notBefore.toISOString(),
      not_after: record.notAfter.toISOString(),
      revoked_at: record.status === 'revoked' ? record.revokedAt?.toISOString() : undefined,
      revocation_reason: record.status === 'revoked' ? record.revocationReason : undefined,
      suspended_at: record.status === 'hold' ? record.revokedAt?.toISOString() : undefined,
    }
  })
}

function serveCrl(ctx: Context, crl: Crl): void {
  ctx.type = 'application/pkix-crl'
  // Revocations must show at once, so caches revalidate; Last-Modified makes that cheap.
  ctx.set('Last-Modified', crl.thisUpdate.toUTCString())
  ctx.body = crl.der
}
