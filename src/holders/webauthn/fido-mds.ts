import { X509Certificate } from 'node:crypto'
import * as jose from 'jose'
import type { MetadataEntry } from './attestation.ts'

/** Where a model keeps its keys (metadata statement keyProtection): any of these is hardware. */
const HARDWARE_PROTECTION = new Set(['hardware', 'secure_element', 'tee'])

/** Status reports that end the trust in an authenticator model (FIDO Metadata Service 3, AuthenticatorStatus). */
const COMPROMISED = new Set(['REVOKED', 'USER_VERIFICATION_BYPASS', 'ATTESTATION_KEY_COMPROMISE', 'USER_KEY_REMOTE_COMPROMISE', 'USER_KEY_PHYSICAL_COMPROMISE'])

export class MdsBlobError extends Error {
  override name = 'MdsBlobError'
}

export interface MdsBlob {
  /** Serial number of the BLOB. */
  no: number
  /** When the FIDO Alliance promises the next one (YYYY-MM-DD): a BLOB past it is stale. */
  nextUpdate: string
  entries: Map<string, MetadataEntry>
}

interface MdsPayload {
  no?: unknown
  nextUpdate?: unknown
  entries?: { aaguid?: unknown; metadataStatement?: { attestationRootCertificates?: unknown; keyProtection?: unknown }; statusReports?: { status?: unknown }[] }[]
}

/**
 * Reads a FIDO Metadata Service BLOB (a JWT, as downloaded from mds3.fidoalliance.org) offline:
 * its x5c chain must end at one of `roots` (the FIDO Alliance's, GlobalSign Root CA R3, by
 * default) and be valid at `now`, and the JWT must verify with the leaf. Returns each FIDO2 model
 * (by AAGUID) with its attestation roots, or why it is refused: a compromise status report, or
 * keys its statement does not say are kept in hardware (a secure element, TEE or other hardware).
 * No network: revocation of the BLOB's own chain is not checked; replace the file to update.
 *
 * Throws MdsBlobError with the reason.
 */
export async function readMdsBlob(jwt: string, roots: X509Certificate[], now: Date): Promise<MdsBlob> {
  let header: jose.ProtectedHeaderParameters
  try {
    header = jose.decodeProtectedHeader(jwt.trim())
  } catch {
    throw new MdsBlobError('not a JWT')
  }
  if (!Array.isArray(header.x5c) || !header.x5c.length) throw new MdsBlobError('no x5c certificate chain in its header')
  let chain: X509Certificate[]
  try {
    chain = header.x5c.map((c) => new X509Certificate(Buffer.from(c, 'base64')))
  } catch {
    throw new MdsBlobError('its x5c certificates cannot be read')
  }
  const current = (c: X509Certificate) => new Date(c.validFrom) <= now && now < new Date(c.validTo)
  for (const [i, cert] of chain.entries()) {
    const next = chain[i + 1]
    if (!current(cert)) throw new MdsBlobError(`x5c certificate ${i} is not valid now`)
    if (next && !(cert.checkIssued(next) && cert.verify(next.publicKey))) throw new MdsBlobError(`x5c certificate ${i} is not signed by the next`)
  }
  const last = chain.at(-1)!
  if (!roots.some((root) => current(root) && (root.raw.equals(last.raw) || (last.checkIssued(root) && last.verify(root.publicKey))))) {
    throw new MdsBlobError('its certificate chain does not end at a trusted metadata root')
  }
  let payload: MdsPayload
  try {
    const alg = String(header.alg)
    payload = JSON.parse(new TextDecoder().decode((await jose.compactVerify(jwt.trim(), chain[0]!.publicKey, { algorithms: [alg] })).payload)) as MdsPayload
  } catch (err) {
    throw new MdsBlobError(`its signature does not verify (${(err as Error).message})`)
  }
  if (typeof payload.no !== 'number' || typeof payload.nextUpdate !== 'string' || !Array.isArray(payload.entries)) throw new MdsBlobError('its payload is not a metadata BLOB (no, nextUpdate, entries)')

  const entries = new Map<string, MetadataEntry>()
  for (const entry of payload.entries) {
    if (typeof entry.aaguid !== 'string') continue // U2F and UAF models: not passkeys
    const compromised = (entry.statusReports ?? []).map((r) => String(r.status)).find((s) => COMPROMISED.has(s))
    const protection = entry.metadataStatement?.keyProtection
    const hardware = Array.isArray(protection) && protection.some((p) => HARDWARE_PROTECTION.has(String(p)))
    const certificates = entry.metadataStatement?.attestationRootCertificates
    const rootsOfModel = Array.isArray(certificates) ? certificates.flatMap((c) => {
      try {
        return [new X509Certificate(Buffer.from(String(c), 'base64'))]
      } catch {
        return []
      }
    }) : []
    const refused = compromised ? `reported ${compromised} by the FIDO Metadata Service` : !hardware ? 'its metadata does not say its keys are kept in hardware' : undefined
    entries.set(entry.aaguid.toLowerCase(), { roots: rootsOfModel, ...(refused ? { refused } : {}) })
  }
  return { no: payload.no, nextUpdate: payload.nextUpdate, entries }
}
