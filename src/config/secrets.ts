import fs from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { ConfigError, type ServerConfig } from './config.ts'
import type { ServerEnv } from './env.ts'

export interface ServerSecrets {
  /** 32-byte key-encryption key: every private key and secret at rest is sealed with it. */
  masterKey: Buffer
  /** Earlier master keys (POSTCERT_PREVIOUS_MASTER_KEYS): they open what they sealed until it is rewrapped. */
  previousMasterKeys?: Buffer[]
}

const MASTER_KEY_FILE = 'master.key'

/** Accepts 32 bytes as 64 hex digits or as base64 / base64url (43 or 44 characters). */
export function parseMasterKey(text: string): Buffer {
  const value = text.trim()
  let key: Buffer | undefined
  if (/^[0-9a-fA-F]{64}$/.test(value)) key = Buffer.from(value, 'hex')
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(value)) key = Buffer.from(value.replace(/=$/, ''), 'base64url')
  if (!key || key.length !== 32) {
    throw new ConfigError('POSTCERT_MASTER_KEY must be 32 random bytes, as 64 hex digits or base64 (try: openssl rand -base64 32)')
  }
  return key
}

/**
 * The master key comes from POSTCERT_MASTER_KEY; outside production a missing one is generated
 * once into DATA_DIR/master.key (mode 0600) so that `npm start` works with no setup.
 */
export function loadSecrets(env: ServerEnv, config: ServerConfig): ServerSecrets {
  const previousMasterKeys = (env.POSTCERT_PREVIOUS_MASTER_KEYS ?? '').split(',').map((k) => k.trim()).filter(Boolean).map((k) => {
    try {
      return parseMasterKey(k)
    } catch {
      throw new ConfigError('POSTCERT_PREVIOUS_MASTER_KEYS must be master keys (32 bytes as 64 hex digits or base64) separated by commas')
    }
  })
  if (env.POSTCERT_MASTER_KEY) return { masterKey: parseMasterKey(env.POSTCERT_MASTER_KEY), previousMasterKeys }
  if (previousMasterKeys.length) throw new ConfigError('POSTCERT_PREVIOUS_MASTER_KEYS needs POSTCERT_MASTER_KEY (the new key)')
  if (config.nodeEnv === 'production') throw new ConfigError('POSTCERT_MASTER_KEY is required in production')

  const file = path.join(config.dataDir, MASTER_KEY_FILE)
  fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 })
  try {
    // 'wx' fails if the file exists, so two processes starting together never overwrite each other.
    fs.writeFileSync(file, randomBytes(32).toString('base64url') + '\n', { flag: 'wx', mode: 0o600 })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  }
  return { masterKey: parseMasterKey(fs.readFileSync(file, 'utf8')) }
}
