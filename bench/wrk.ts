// wrk (Debian's `wrk` package) as the benchmark's load generator: a C program that costs the
// machine far less CPU per request than autocannon, which runs on Node, so that on a 2-core
// machine more of the CPU goes to the server and PostgreSQL. The issue's reference figures were
// measured with it (`wrk -t2 -c32`). The requests are given to a Lua script written for the run;
// its `done` prints the counts and the latency percentiles as one JSON line.
import { execFile, execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'

export interface WrkRequest {
  method: 'GET' | 'POST'
  /** The path and query, e.g. `/token`. */
  path: string
  headers?: Record<string, string>
  body?: string | Buffer
}

export interface LoadResult { ops: number; p50: number; p99: number; errors: number }

/** Whether wrk is on the PATH. */
export function wrkInstalled(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' })
    return true
  } catch (error) {
    // wrk --version prints its usage and exits 1; only a missing binary is ENOENT.
    return (error as NodeJS.ErrnoException).code !== 'ENOENT'
  }
}

/** A Lua string literal holding these bytes exactly (three-digit decimal escapes for all but plain ASCII). */
function luaString(value: string | Buffer): string {
  let out = '"'
  for (const byte of Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8')) {
    out += byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c ? String.fromCharCode(byte) : `\\${String(byte).padStart(3, '0')}`
  }
  return `${out}"`
}

/** Where a rotating request's body takes the token (runWrkRotating). */
export const TOKEN = '${token}'

/** `done`, common to the scripts: one JSON line that `runWrk` reads. */
const DONE = `function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests": %d, "non2xx": %d, "socket": %d, "p50": %f, "p99": %f}\\n',
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
`

/** A request as wrk.format writes it, in Lua. */
function luaFormat(r: WrkRequest, body = r.body === undefined ? 'nil' : luaString(r.body)): string {
  const headers = Object.entries(r.headers ?? {}).map(([k, v]) => `[${luaString(k)}] = ${luaString(v)}`).join(', ')
  return `wrk.format(${luaString(r.method)}, ${luaString(r.path)}, { ${headers} }, ${body})`
}

/** The Lua script of fixed requests: formatted once, sent in turn by every connection (each thread starts at its own offset). */
function requestsScript(requests: WrkRequest[]): string {
  return `local formatted = {}
local index = 0
function init(args)
  ${requests.map((r) => `table.insert(formatted, ${luaFormat(r)})`).join('\n  ')}
  index = math.random(#formatted) - 1
end
function request()
  index = index % #formatted + 1
  return formatted[index]
end
${DONE}`
}

/**
 * The Lua script of rotating tokens: each thread keeps a pool of its share of `tokens`; a request
 * takes one (`request` with `${TOKEN}` replaced in its body) and its answer's `field` goes back
 * into the pool. With a token for each connection (and wrk's check: rotatingTokensFor), every
 * request spends a token nobody else holds; an answer without a new one loses that chain (and,
 * the pool empty, requests fail).
 */
function rotatingScript(request: WrkRequest & { body: string }, field: string, tokens: string[], threads: number): string {
  const [before, after] = request.body.split(TOKEN) as [string, string]
  const shares = Array.from({ length: threads }, (_, t) => tokens.filter((_, i) => i % threads === t).join(','))
  return `local shares = { ${shares.map(luaString).join(', ')} }
local next_share = 0
function setup(thread)
  next_share = next_share + 1
  thread:set("share", shares[next_share])
end
local pool = {}
function init(args)
  for token in string.gmatch(share, "[^,]+") do table.insert(pool, token) end
end
function request()
  local token = table.remove(pool) or "none-left"
  return ${luaFormat(request, `${luaString(before)} .. token .. ${luaString(after)}`)}
end
function response(status, headers, body)
  local token = string.match(body, '"${field}":"([^"]+)"')
  if token then table.insert(pool, token) end
end
${DONE}`
}

/**
 * `wrk -t2 -c{connections} -d{seconds}s` against `origin` with these requests, sent in turn.
 * Errors are wrk's: answers with a status of 400 or more, and socket errors.
 */
export async function runWrk(origin: string, requests: WrkRequest[], options: { seconds: number; connections: number; dir: string }): Promise<LoadResult> {
  return await runScript(origin, requestsScript(requests), options)
}

/**
 * wrk sending `request` over rotating tokens: each answer's `field` (a refresh token that
 * replaces the one spent) is the next request's token, `tokens` (rotatingTokensFor) the first
 * ones. The C client keeps the generator's CPU per token to a fraction of a Node one's.
 */
export async function runWrkRotating(origin: string, request: WrkRequest & { body: string }, field: string, tokens: string[], options: { seconds: number; connections: number; dir: string }): Promise<LoadResult> {
  if (!request.body.includes(TOKEN)) throw new Error(`the request's body must hold ${TOKEN}`)
  const needed = rotatingTokensFor(options.connections)
  if (tokens.length < needed) throw new Error(`${options.connections} connections need ${needed} tokens, not ${tokens.length}`)
  if (tokens.some((t) => !/^[A-Za-z0-9_-]+$/.test(t))) throw new Error('tokens must be base64url')
  return await runScript(origin, rotatingScript(request, field, tokens, threadsFor(options.connections)), options)
}

/**
 * The tokens runWrkRotating needs for `connections`: one per connection, and one more per thread,
 * as wrk calls the first thread's `request` once before the run to check the script and sends
 * nothing of it (that token's chain ends there).
 */
export const rotatingTokensFor = (connections: number) => connections + threadsFor(connections)

/** wrk's threads: two, as the issue's reference figures were measured, or one per connection when fewer. */
const threadsFor = (connections: number) => Math.min(2, connections)

async function runScript(origin: string, script: string, options: { seconds: number; connections: number; dir: string }): Promise<LoadResult> {
  const file = path.join(options.dir, `wrk-${process.pid}-${Date.now()}.lua`)
  fs.writeFileSync(file, script)
  try {
    const { stdout } = await promisify(execFile)('wrk', ['-t', String(threadsFor(options.connections)), '-c', String(options.connections), '-d', `${options.seconds}s`, '--timeout', '10s', '-s', file, origin], { maxBuffer: 1 << 20 })
    const line = stdout.split('\n').find((l) => l.startsWith('WRK '))
    if (!line) throw new Error(`wrk printed no summary:\n${stdout}`)
    const summary = JSON.parse(line.slice(4)) as { requests: number; non2xx: number; socket: number; p50: number; p99: number }
    return { ops: summary.requests - summary.non2xx, p50: summary.p50, p99: summary.p99, errors: summary.non2xx + summary.socket }
  } finally {
    fs.rmSync(file, { force: true })
  }
}
