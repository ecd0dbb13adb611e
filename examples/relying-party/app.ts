// Demo Bank (데모 은행): a fictitious relying party that signs its customers in with PostCert,
// the way an institution would (routes.ts). This file starts it: listen, ask for the client's
// credentials, discover PostCert, serve.
import { readFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import * as client from 'openid-client'
import { createDemoApp } from './routes.ts'

export interface DemoRelyingPartyOptions {
  /** PostCert's issuer, e.g. http://localhost:3000. */
  issuer: string
  /** Default 0: a free port. */
  port?: number
  /** Default 127.0.0.1. */
  host?: string
  /**
   * The client's credentials, asked once the demo listens and knows its URL: its redirect URI is
   * `${baseUrl}/callback`, its post-logout redirect URI `${baseUrl}/`.
   */
  credentials: (baseUrl: string) => Promise<{ clientId: string; clientSecret: string }>
  /** Default `openid profile phone certificate`. */
  scope?: string
  /**
   * The URL browsers use. Default http://localhost:<port>: PostCert's passkeys need the name
   * `localhost` (a secure context without TLS). An https URL (a TLS proxy in front) makes the
   * cookies Secure.
   */
  publicUrl?: string
  /** Keep retrying discovery this long while PostCert starts. Default 0: one attempt. */
  discoveryWaitMs?: number
  /** Back-channel logouts and failed sign-ins are reported here. Default: nowhere. */
  log?: (message: string) => void
}

export interface RunningDemo {
  url: string
  close(): Promise<void>
}

const DEFAULT_SCOPE = 'openid profile phone certificate'
const ROOT = new URL('../../', import.meta.url)
/** Static files, read once at start: the demo's stylesheet and PostCert's button assets. */
const ASSETS: Record<string, { file: string; type: string }> = {
  'demo-bank.css': { file: 'examples/relying-party/demo-bank.css', type: 'text/css; charset=utf-8' },
  'postcert-login-button.css': { file: 'public/postcert-login-button.css', type: 'text/css; charset=utf-8' },
  'postcert-login-button.svg': { file: 'public/postcert-login-button.svg', type: 'image/svg+xml' },
  'postcert-mark.svg': { file: 'public/postcert-mark.svg', type: 'image/svg+xml' },
}

export async function startDemoRelyingParty(options: DemoRelyingPartyOptions): Promise<RunningDemo> {
  const assets = new Map(Object.entries(ASSETS).map(([name, a]) => [name, { type: a.type, body: readFileSync(fileURLToPath(new URL(a.file, ROOT))) }]))
  // Requests that arrive before discovery is done get a 503 rather than hanging.
  let handle: http.RequestListener = (_req, res) => {
    res.writeHead(503, { 'Retry-After': '1', 'Content-Type': 'text/plain; charset=utf-8' }).end('Demo Bank is starting\n')
  }
  const server = http.createServer((req, res) => handle(req, res))
  server.headersTimeout = 20_000
  server.requestTimeout = 30_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  let closing: Promise<void> | undefined
  const close = () => (closing ??= new Promise<void>((resolve) => {
    server.close(() => resolve())
    server.closeIdleConnections()
    setTimeout(() => server.closeAllConnections(), 2000).unref()
  }))
  try {
    const baseUrl = (options.publicUrl ?? `http://localhost:${(server.address() as AddressInfo).port}`).replace(/\/+$/, '')
    const { clientId, clientSecret } = await options.credentials(baseUrl)
    const config = await discover(new URL(options.issuer), clientId, clientSecret, options.discoveryWaitMs ?? 0)
    const app = createDemoApp({ config, clientId, baseUrl, assets, scope: options.scope ?? DEFAULT_SCOPE, log: options.log ?? (() => {}) })
    handle = app.callback()
    return { url: baseUrl, close }
  } catch (err) {
    await close()
    throw err
  }
}

/** Discovery, retried while PostCert is unreachable or not yet answering (it may still be starting). */
async function discover(issuer: URL, clientId: string, clientSecret: string, waitMs: number): Promise<client.Configuration> {
  const deadline = Date.now() + waitMs
  for (;;) {
    try {
      return await client.discovery(issuer, clientId, undefined, client.ClientSecretBasic(clientSecret),
        issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : undefined)
    } catch (err) {
      const starting = err instanceof TypeError || (err instanceof client.ClientError && err.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM')
      if (!starting || Date.now() >= deadline) {
        const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message
        throw new Error(`cannot use PostCert at ${issuer.href} (discovery: ${cause})`, { cause: err })
      }
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
  }
}
