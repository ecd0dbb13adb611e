import { X509Certificate } from 'node:crypto'
import { SettingsService } from '@simplewebauthn/server'

/**
 * Attestation formats that speak for the authenticator's hardware: a key generated and kept in
 * a secure element or TPM, as its maker certifies. (fido-u2f keys lack user verification;
 * android-safetynet is retired; none and self attestation say nothing about the device.)
 */
export const HARDWARE_FORMATS = ['packed', 'tpm', 'android-key', 'apple'] as const

/** What an attestation says, and whether PostCert could verify it to a trusted root. */
export interface AttestationVerdict {
  /** The key is in hardware whose maker PostCert trusts: the high assurance level. */
  attested: boolean
  /** Why not, for the logs and the tests. */
  reason?: string
}

/** A trusted authenticator model from the FIDO Metadata Service, or why it is refused. */
export interface MetadataEntry {
  roots: X509Certificate[]
  refused?: string
}

export interface AttestationInput {
  fmt: string
  /** Lowercase, with dashes. */
  aaguid: string
  /** The attestation certificate chain, leaf first (DER). */
  x5c: Uint8Array[]
}

/**
 * Which passkeys count as hardware-bound (loa:high, amr hwk): an attestation in a hardware
 * format whose certificate chain ends at a root PostCert trusts, from an authenticator model it
 * allows. Trusted roots: the operator's (PASSKEY_ATTESTATION_ROOTS), Apple's and Google's
 * hardware attestation roots for their own formats, and each model's roots in a FIDO Metadata
 * Service BLOB (FIDO_MDS_FILE). Models: the operator's AAGUID allow-list (PASSKEY_AAGUIDS) when
 * set, and the models of the BLOB that no status report marks as compromised.
 *
 * Checks, in order:
 * 1. the format is a hardware one;
 * 2. there is a certificate chain (self attestation has none);
 * 3. the model is not refused by the BLOB, and is allowed (in the BLOB or the allow-list);
 * 4. each certificate is valid now and signed by the next, intermediates being CAs;
 * 5. the last certificate is a trusted root, or is signed by one that is valid now.
 * The attestation signature itself was checked by @simplewebauthn/server before this.
 */
export class AttestationTrust {
  readonly #roots: X509Certificate[]
  readonly #formatRoots: Map<string, X509Certificate[]>
  readonly #aaguids: Set<string>
  readonly #metadata: Map<string, MetadataEntry>

  constructor(options: { roots?: X509Certificate[]; aaguids?: string[]; metadata?: Map<string, MetadataEntry> } = {}) {
    this.#roots = options.roots ?? []
    this.#aaguids = new Set((options.aaguids ?? []).map((a) => a.toLowerCase()))
    this.#metadata = options.metadata ?? new Map<string, MetadataEntry>()
    // The platform makers' own roots, shipped with @simplewebauthn/server, for their formats only.
    this.#formatRoots = new Map(['apple', 'android-key'].map((fmt) => [fmt, SettingsService.getRootCertificates({ identifier: fmt as 'apple' }).map((pem) => new X509Certificate(pem))]))
  }

  judge(input: AttestationInput, now: Date): AttestationVerdict {
    if (!(HARDWARE_FORMATS as readonly string[]).includes(input.fmt)) return { attested: false, reason: `${input.fmt} attestation says nothing about the device` }
    if (!input.x5c.length) return { attested: false, reason: 'self attestation: no certificate speaks for the device' }
    const aaguid = input.aaguid.toLowerCase()
    const entry = this.#metadata.get(aaguid)
    if (entry?.refused) return { attested: false, reason: `authenticator model ${aaguid}: ${entry.refused}` }
    const allowListed = this.#aaguids.size === 0 || this.#aaguids.has(aaguid)
    if (!entry && !allowListed) return { attested: false, reason: `authenticator model ${aaguid} is not allowed` }
    const roots = [...(entry?.roots ?? []), ...(allowListed ? [...this.#roots, ...(this.#formatRoots.get(input.fmt) ?? [])] : [])]
    let chain: X509Certificate[]
    try {
      chain = input.x5c.map((der) => new X509Certificate(der))
    } catch {
      return { attested: false, reason: 'the attestation certificates cannot be read' }
    }
    const current = (c: X509Certificate) => new Date(c.validFrom) <= now && now < new Date(c.validTo)
    for (const [i, cert] of chain.entries()) {
      if (!current(cert)) return { attested: false, reason: `attestation certificate ${i} is not valid now` }
      const next = chain[i + 1]
      if (next && !(next.ca && cert.checkIssued(next) && cert.verify(next.publicKey))) return { attested: false, reason: `attestation certificate ${i} is not signed by the next` }
    }
    const last = chain.at(-1)!
    const anchored = roots.some((root) => current(root) && (root.raw.equals(last.raw) || (last.checkIssued(root) && last.verify(root.publicKey))))
    return anchored ? { attested: true } : { attested: false, reason: 'the attestation does not chain to a trusted root' }
  }
}
