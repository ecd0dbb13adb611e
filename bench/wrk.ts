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

/**
 * The Lua script: the requests formatted once, sent in turn by every connection (each thread
 * starts at its own offset); `done` prints one JSON line that `runWrk` reads.
 */
function script(requests: WrkRequest[]): string {
  const formatted = requests.map((r) => {
    const headers = Object.entries(r.headers ?? {}).map(([k, v]) => `[${luaString(k)}] = ${luaString(v)}`).join(', ')
    return `wrk.format(${luaString(r.method)}, ${luaString(r.path)}, { ${headers} }, ${r.body === undefined ? 'nil' : luaString(r.body)})`
  })
  return `local formatted = {}
local index = 0
function init(args)
  ${formatted.map((f) => `table.insert(formatted, ${f})`).join('\n  ')}
  index = math.random(#formatted) - 1
end
function request()
  index = index % #formatted + 1
  return formatted[index]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK {"requests": %d, "non2xx": %d, "socket": %d, "p50": %f, "p99": %f}\\n',
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
`
}

/**
 * `wrk -t2 -c{connections} -d{seconds}s` against `origin` with these requests, sent in turn.
 * Errors are wrk's: answers with a status of 400 or more, and socket errors.
 */
export async function runWrk(origin: string, requests: WrkRequest[], options: { seconds: number; connections: number; dir: string }): Promise<LoadResult> {
  const file = path.join(options.dir, `wrk-${process.pid}-${Date.now()}.lua`)
  fs.writeFileSync(file, script(requests))
  try {
    const threads = Math.min(2, options.connections)
    const { stdout } = await promisify(execFile)('wrk', ['-t', String(threads), '-c', String(options.connections), '-d', `${options.seconds}s`, '--timeout', '10s', '-s', file, origin], { maxBuffer: 1 << 20 })
    const line = stdout.split('\n').find((l) => l.startsWith('WRK '))
    if (!line) throw new Error(`wrk printed no summary:\n${stdout}`)
    const summary = JSON.parse(line.slice(4)) as { requests: number; non2xx: number; socket: number; p50: number; p99: number }
    return { ops: summary.requests - summary.non2xx, p50: summary.p50, p99: summary.p99, errors: summary.non2xx + summary.socket }
  } finally {
    fs.rmSync(file, { force: true })
  }
}
