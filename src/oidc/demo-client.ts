import fs from 'node:fs/promises'
import path from 'node:path'
import type { Logger } from 'pino'
import { CERTIFICATE_ALLOWED } from './client-policy.ts'
import type { ClientStore } from './client-store.ts'

/** The client_id of the demo relying party (examples/relying-party), registered outside production. */
export const DEMO_CLIENT_ID = 'postcert-demo-rp'
/** Where the demo relying party finds its credentials: in DATA_DIR, readable by its owner only. */
export const DEMO_CLIENT_FILE = 'demo-rp-client.json'

export interface DemoClientFile {
  issuer: string
  client_id: string
  client_secret: string
  redirect_uri: string
}

/**
 * Registers the demo relying party at `url` (development only) so that `npm start` then
 * `npm run demo-rp` works with no setup, and writes its credentials to DATA_DIR. An existing
 * registration is kept while it matches the file; otherwise it is replaced.
 */
export async function registerDemoClient(options: { store: ClientStore; issuer: string; url: URL; dataDir: string; logger: Logger }): Promise<void> {
  const { store, issuer, url, dataDir, logger } = options
  const base = url.href.replace(/\/$/, '')
  const redirectUri = `${base}/callback`
  const file = path.join(dataDir, DEMO_CLIENT_FILE)
  const saved = await readSaved(file)
  const registered = await store.show(DEMO_CLIENT_ID).catch(() => undefined)
  const current = registered && saved && saved.issuer === issuer && saved.redirect_uri === redirectUri
    && (registered.redirect_uris as string[] | undefined)?.includes(redirectUri) && registered[CERTIFICATE_ALLOWED] === true
  if (current) return
  if (registered) await store.remove(DEMO_CLIENT_ID)
  const client = await store.add({
    clientId: DEMO_CLIENT_ID,
    name: '데모 은행 (PostCert demo)',
    redirectUris: [redirectUri],
    postLogoutRedirectUris: [`${base}/`],
    scope: 'openid profile phone certificate offline_access',
    // The demo shows the certificate a login used (the operator's approval, as a real bank would need).
    certificateClaim: true,
    metadata: { backchannel_logout_uri: `${base}/backchannel-logout` },
  })
  const content: DemoClientFile = { issuer, client_id: client.client_id, client_secret: String(client.client_secret), redirect_uri: redirectUri }
  await fs.mkdir(dataDir, { recursive: true })
  await fs.writeFile(file, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 })
  logger.info({ client_id: DEMO_CLIENT_ID, file }, 'demo relying party registered (npm run demo-rp)')
}

async function readSaved(file: string): Promise<DemoClientFile | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as DemoClientFile
  } catch {
    return undefined
  }
}
