import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

/**
 * The CLI's way into a running server on the same machine: at start the server writes a new
 * random token and its admin API's URL to DATA_DIR/admin.token (mode 0600, the server's user
 * only), and accepts that token as the operator at the console (actor `cli`). Whoever can read
 * the file can already read the server's settings and database; the file only spares them
 * stopping the server (the embedded database admits one process). A restart replaces the token;
 * a clean stop removes the file.
 */
export const LOCAL_TOKEN_FILE = 'admin.token'

export interface LocalAdminToken {
  url: string
  token: string
}

export const newLocalToken = () => randomBytes(32).toString('base64url')

export const tokenHash = (token: string) => createHash('sha256').update(token).digest()

/** Whether `presented` is the local token (constant time). */
export function isLocalToken(presented: string, hash: Buffer | undefined): boolean {
  return hash !== undefined && timingSafeEqual(tokenHash(presented), hash)
}

/** Writes the file (replacing any left by an earlier run); returns what removes it. */
export function writeLocalToken(dataDir: string, value: LocalAdminToken): () => void {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const file = path.join(dataDir, LOCAL_TOKEN_FILE)
  // A new file each time, so that its mode is ours even if an older one was changed.
  fs.rmSync(file, { force: true })
  fs.writeFileSync(file, `${JSON.stringify(value)}\n`, { mode: 0o600, flag: 'wx' })
  return () => {
    try {
      if ((JSON.parse(fs.readFileSync(file, 'utf8')) as LocalAdminToken).token === value.token) fs.rmSync(file, { force: true })
    } catch {
      // already gone
    }
  }
}

/**
 * The server's answer to the CLI's nonce: an HMAC keyed with the token's hash. Only the server
 * that wrote the token (or whoever can read the file) can give it, so the CLI sends nothing to
 * another process that took the port after the server was gone.
 */
export const tokenProof = (hash: Buffer, nonce: string) => createHmac('sha256', hash).update(nonce).digest('base64url')

/** Whether `proof` is the right answer to `nonce` for `token` (constant time). */
export function provesToken(token: string, nonce: string, proof: string): boolean {
  const expected = Buffer.from(tokenProof(tokenHash(token), nonce))
  const given = Buffer.from(proof)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

/**
 * The running server's URL and token, or undefined when there is no file, or not one to trust: a
 * regular file (no link), of this user, readable by no one else.
 */
export function readLocalToken(dataDir: string): LocalAdminToken | undefined {
  const file = path.join(dataDir, LOCAL_TOKEN_FILE)
  try {
    const stat = fs.lstatSync(file)
    if (!stat.isFile() || stat.uid !== process.getuid?.() || (stat.mode & 0o077) !== 0) return undefined
  } catch {
    return undefined
  }
  try {
    const value = JSON.parse(fs.readFileSync(path.join(dataDir, LOCAL_TOKEN_FILE), 'utf8')) as Partial<LocalAdminToken>
    return typeof value.url === 'string' && typeof value.token === 'string' ? { url: value.url, token: value.token } : undefined
  } catch {
    return undefined
  }
}

/** The URL a local client reaches a listener bound to `host` at. */
export function localUrl(host: string, port: number): string {
  const reachable = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
  return `http://${reachable}:${port}`
}
