// `npm run demo-rp`: Demo Bank against a local PostCert (see README.md beside this file).
//
//   POSTCERT_ISSUER        PostCert's issuer (default http://localhost:3000)
//   DEMO_RP_PORT           port to listen on (default: DEMO_RP_URL's port, else 4000)
//   DEMO_RP_URL            the demo's URL, as PostCert registered it (default http://localhost:<port>)
//   DEMO_RP_CLIENT_ID      with DEMO_RP_CLIENT_SECRET: a client you registered yourself;
//   DEMO_RP_CLIENT_SECRET  without them, the demo client PostCert writes to <DATA_DIR>/demo-rp-client.json
//   DATA_DIR               PostCert's data directory (default ./.data)
//   DEMO_RP_SCOPE          scopes to ask for (default openid profile phone certificate)
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { startDemoRelyingParty } from './app.ts'

/** How long to wait for PostCert to write the client file and answer discovery. */
const WAIT_MS = 15_000

const REGISTER_HINT = 'start PostCert first with `npm start`, or register a client with '
  + '`npm run postcert -- clients add --name "Demo Bank" --redirect-uri http://localhost:4000/callback '
  + '--post-logout-redirect-uri http://localhost:4000/ --scope "openid profile phone certificate"` '
  + 'and set DEMO_RP_CLIENT_ID and DEMO_RP_CLIENT_SECRET'

/** A start-up problem the user can fix; its message is the whole story. */
class SetupError extends Error {}

const env = (name: string): string | undefined => process.env[name]?.trim() || undefined
const log = (message: string) => process.stdout.write(`${new Date().toISOString()} ${message}\n`)
const withoutSlash = (url: string) => url.replace(/\/+$/, '')

function demoUrl(): string | undefined {
  const url = env('DEMO_RP_URL')
  if (url !== undefined && !URL.canParse(url)) throw new SetupError(`DEMO_RP_URL must be a URL, not "${url}"`)
  return url
}

function listenPort(publicUrl: string | undefined): number {
  const raw = env('DEMO_RP_PORT') ?? (publicUrl ? new URL(publicUrl).port : '')
  if (raw === '') return 4000
  const port = Number(raw)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new SetupError(`DEMO_RP_PORT must be a port number, not "${raw}"`)
  return port
}

async function credentials(issuer: string, baseUrl: string): Promise<{ clientId: string; clientSecret: string }> {
  const clientId = env('DEMO_RP_CLIENT_ID')
  const clientSecret = env('DEMO_RP_CLIENT_SECRET')
  if (clientId && clientSecret) return { clientId, clientSecret }
  if (clientId || clientSecret) throw new SetupError('set both DEMO_RP_CLIENT_ID and DEMO_RP_CLIENT_SECRET, or neither')

  const file = path.resolve(env('DATA_DIR') ?? './.data', 'demo-rp-client.json')
  const text = await waitForFile(file)
  if (text === undefined) throw new SetupError(`${file} not found: ${REGISTER_HINT}`)
  let saved: Record<string, unknown>
  try {
    saved = JSON.parse(text)
  } catch {
    throw new SetupError(`${file} is not valid JSON; delete it and restart PostCert`)
  }
  const { issuer: savedIssuer, client_id, client_secret, redirect_uri } = saved
  if (typeof client_id !== 'string' || typeof client_secret !== 'string') throw new SetupError(`${file} has no client_id and client_secret; delete it and restart PostCert`)
  if (typeof savedIssuer === 'string' && withoutSlash(savedIssuer) !== withoutSlash(issuer)) {
    throw new SetupError(`${file} is for PostCert at ${savedIssuer}, not ${issuer}: set POSTCERT_ISSUER=${savedIssuer}`)
  }
  if (typeof redirect_uri === 'string' && redirect_uri !== `${baseUrl}/callback`) {
    throw new SetupError(`${file} is for a demo at ${redirect_uri}, but this one is at ${baseUrl}: set DEMO_RP_URL (or DEMO_RP_PORT) to match`)
  }
  return { clientId: client_id, clientSecret: client_secret }
}

/** The file's text, waiting a little for a PostCert that is still starting; undefined if it never appears. */
async function waitForFile(file: string): Promise<string | undefined> {
  const deadline = Date.now() + WAIT_MS
  let told = false
  for (;;) {
    try {
      return await readFile(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new SetupError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code}`)
    }
    if (Date.now() >= deadline) return undefined
    if (!told) log(`waiting for PostCert to write ${file} ...`)
    told = true
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}

async function main(): Promise<void> {
  const issuer = env('POSTCERT_ISSUER') ?? 'http://localhost:3000'
  const publicUrl = demoUrl()
  const demo = await startDemoRelyingParty({
    issuer, port: listenPort(publicUrl), publicUrl, scope: env('DEMO_RP_SCOPE'), discoveryWaitMs: WAIT_MS, log,
    credentials: (baseUrl) => credentials(issuer, baseUrl),
  })
  log(`Demo Bank (데모 은행) at ${demo.url}, signing in with PostCert at ${issuer}`)

  let stopping = false
  const shutdown = (signal: NodeJS.Signals) => {
    // A second Ctrl-C means "now".
    if (stopping) return void (signal === 'SIGINT' && process.exit(130))
    stopping = true
    demo.close().then(() => process.exit(0), () => process.exit(1))
  }
  process.on('SIGINT', shutdown)
  process.on('SIGTERM', shutdown)
}

main().catch((err) => {
  // Only the message: a stack trace helps nobody fix a missing file or a stopped PostCert.
  process.stderr.write(`demo-rp: ${(err as Error).message}\n`)
  process.exit(1)
})
