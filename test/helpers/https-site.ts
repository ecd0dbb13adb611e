import https from 'node:https'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import fs from 'node:fs'
import { openssl } from './pki.ts'
import { tempDir } from './server.ts'

export interface HttpsSite {
  /** https://localhost:PORT */
  origin: string
  /** Serves `body` as JSON at `pathname` (replacing what was there). */
  serve(pathname: string, body: unknown): void
  /** A fetch that trusts this site's certificate (and only adds that to the usual trust). */
  fetch: typeof globalThis.fetch
  close(): Promise<void>
}

/**
 * A real TLS site on localhost with a self-signed certificate, for documents PostCert fetches
 * over https only (sector identifier documents). The provider is given `fetch`, which trusts it.
 */
export async function startHttpsSite(): Promise<HttpsSite> {
  const dir = tempDir('postcert-https-')
  const key = path.join(dir, 'key.pem')
  const cert = path.join(dir, 'cert.pem')
  const made = await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'])
  if (made.code !== 0) throw new Error(`openssl: ${made.output}`)
  const ca = fs.readFileSync(cert, 'utf8')
  const documents = new Map<string, string>()
  const server = https.createServer({ key: fs.readFileSync(key), cert: ca }, (req, res) => {
    const body = documents.get(new URL(req.url ?? '/', 'https://localhost').pathname)
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' }).end(body ?? '{}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `https://localhost:${(server.address() as AddressInfo).port}`

  const trustingFetch = async (input: Parameters<typeof fetch>[0], init: RequestInit = {}): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input))
    if (url.origin !== origin) return await globalThis.fetch(input, { ...init, dispatcher: undefined } as RequestInit)
    return await new Promise<Response>((resolve, reject) => {
      const req = https.request(url, { method: init.method ?? 'GET', headers: Object.fromEntries(new Headers(init.headers)), ca, signal: init.signal ?? undefined }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode, headers: res.headers as Record<string, string> })))
        res.on('error', reject)
      })
      req.on('error', reject)
      req.end(typeof init.body === 'string' ? init.body : undefined)
    })
  }
  return {
    origin,
    serve: (pathname, body) => { documents.set(pathname, JSON.stringify(body)) },
    fetch: trustingFetch as typeof globalThis.fetch,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
