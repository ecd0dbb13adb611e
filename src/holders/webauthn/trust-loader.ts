import fs from 'node:fs'
import { X509Certificate } from 'node:crypto'
import { SettingsService } from '@simplewebauthn/server'
import type { Logger } from 'pino'
import { ConfigError } from '../../config/config.ts'
import { AttestationTrust } from './attestation.ts'
import { MdsBlobError, readMdsBlob } from './fido-mds.ts'

export interface AttestationSettings {
  /** PEM file of root certificates passkey attestations may chain to (PASSKEY_ATTESTATION_ROOTS). */
  rootsFile?: string
  /** Authenticator models (AAGUIDs) allowed with those roots; empty: any (PASSKEY_AAGUIDS). */
  aaguids: string[]
  /** A FIDO Metadata Service BLOB (FIDO_MDS_FILE), and the roots its signature chains to (FIDO_MDS_ROOTS). */
  mdsFile?: string
  mdsRootsFile?: string
}

/**
 * The attestation trust of the settings, read at start-up: a file that is missing, holds no
 * certificate, or a BLOB that does not verify stops PostCert with one line (ConfigError).
 */
export async function loadAttestationTrust(settings: AttestationSettings, now: Date, logger: Logger): Promise<AttestationTrust> {
  const roots = settings.rootsFile ? readCertificates(settings.rootsFile, 'PASSKEY_ATTESTATION_ROOTS') : []
  let metadata
  if (settings.mdsFile) {
    const mdsRoots = settings.mdsRootsFile ? readCertificates(settings.mdsRootsFile, 'FIDO_MDS_ROOTS')
      : SettingsService.getRootCertificates({ identifier: 'mds' }).map((pem) => new X509Certificate(pem))
    try {
      const blob = await readMdsBlob(read(settings.mdsFile, 'FIDO_MDS_FILE'), mdsRoots, now)
      metadata = blob.entries
      const stale = new Date(`${blob.nextUpdate}T00:00:00Z`) < now
      logger[stale ? 'warn' : 'info']({ no: blob.no, next_update: blob.nextUpdate, models: blob.entries.size },
        stale ? 'FIDO metadata BLOB is past its nextUpdate: download a new one' : 'FIDO metadata BLOB loaded')
    } catch (err) {
      if (err instanceof MdsBlobError) throw new ConfigError(`FIDO_MDS_FILE ${settings.mdsFile}: ${err.message}`)
      throw err
    }
  }
  return new AttestationTrust({ roots, aaguids: settings.aaguids, metadata })
}

function read(file: string, name: string): string {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError(`${name} cannot be read: ${file} (${(err as NodeJS.ErrnoException).code})`)
  }
}

/** Every certificate of a PEM bundle. */
function readCertificates(file: string, name: string): X509Certificate[] {
  const blocks = read(file, name).match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  if (!blocks.length) throw new ConfigError(`${name} ${file} holds no PEM certificate`)
  try {
    return blocks.map((pem) => new X509Certificate(pem))
  } catch {
    throw new ConfigError(`${name} ${file} holds a certificate that cannot be read`)
  }
}
