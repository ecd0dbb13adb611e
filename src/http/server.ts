import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { SHUTDOWN_GRACE_MS } from '../constants.ts'

export interface RunningServer {
  server: http.Server
  url: string
  /** Stops accepting, lets in-flight requests finish (up to a grace period), then runs onClose. */
  close(): Promise<void>
}

/** An HTTP server for `handle` on port (0: any free one); onClose runs once, after the last request. */
export async function listen(handle: http.RequestListener, options: { port: number; host?: string; onClose?: () => Promise<void> }): Promise<RunningServer> {
  const server = http.createServer(handle)
  // Slowloris protection; keep-alive shorter than typical proxy idle timeouts is not needed here.
  server.headersTimeout = 20_000
  server.requestTimeout = 30_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => resolve())
  })
  const address = server.address() as AddressInfo
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`
  let closing: Promise<void> | undefined
  return {
    server,
    url,
    close: () => (closing ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeIdleConnections()
      const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS)
      force.unref()
      await closed
      clearTimeout(force)
      await options.onClose?.()
    })()),
  }
}
