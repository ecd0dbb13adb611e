// Long fuzzing runs of PostCert's HTTP surface (issue #14): the property of
// test/fuzz/endpoints.test.ts, as many requests as asked, against a server of its own.
//
//   node fuzz/run.ts --runs 100000 [--seed N] [--family oidc|interaction|enrollment|portal|pki|signatures]
//   node fuzz/run.ts --seed N [--family F] --path P     replays one request (a run index, or a test's counterexample path)
//
// On PostgreSQL when DATABASE_URL is set (a schema of its own, dropped at the end), else on an
// in-memory PGlite. Every failure is recorded and the run goes on (--stop-on-failure stops and
// shrinks instead); the summary groups them and says how to replay each. Exit code 1 on any.

import { randomInt } from 'node:crypto'
import { parseArgs } from 'node:util'
import fc from 'fast-check'
import pino from 'pino'
import { startTestServer } from '../test/helpers/server.ts'
import { Fixtures } from '../test/fuzz/fixtures.ts'
import { FuzzFailure, Fuzzer } from '../test/fuzz/fuzzer.ts'
import { FAMILIES, requests, type Family, type FuzzRequest } from '../test/fuzz/requests.ts'

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '10000' },
    seed: { type: 'string' },
    family: { type: 'string' },
    path: { type: 'string' },
    progress: { type: 'string', default: '2000' },
    'stop-on-failure': { type: 'boolean', default: false },
  },
})

const family = args.family as Family | undefined
if (family && !FAMILIES.includes(family)) {
  console.error(`--family must be one of ${FAMILIES.join(', ')}`)
  process.exit(2)
}
const seed = args.seed ? Number(args.seed) : randomInt(2 ** 31)
const runs = args.path ? 1 : Number(args.runs)
const progressEvery = Number(args.progress)
const strict = args['stop-on-failure'] || args.path !== undefined
if (!Number.isInteger(runs) || runs < 1 || !Number.isFinite(seed)) {
  console.error('--runs must be a positive integer and --seed a number')
  process.exit(2)
}

interface Failure { run: number; message: string; request: FuzzRequest }

/** Thrown into fast-check on Ctrl-C: the run stops and the summary shows what was done. */
class Interrupted extends Error {
  override name = 'Interrupted'
}

async function main(): Promise<number> {
  const errorsLogged: string[] = []
  const logger = pino({ level: 'error' }, { write: (line: string) => { errorsLogged.push(line) } })
  const server = await startTestServer({
    backend: process.env.DATABASE_URL ? 'postgres' : 'pglite',
    env: { TRUST_PROXY: 'true', POSTCERT_TEST_MODE: 'true' },
    overrides: { logger },
  })
  const fuzzer = new Fuzzer(server.url, await Fixtures.create(server))
  const replay = (run: number | string) => `node fuzz/run.ts --seed ${seed}${family ? ` --family ${family}` : ''} --path ${run}`
  console.log(`fuzzing ${family ?? 'every family'}: ${runs} requests, seed ${seed}, ${server.database.backend} (replay a run: ${replay('<run>')})`)

  const failures: Failure[] = []
  const latencies: number[] = []
  let run = 0
  let stopping = false
  process.once('SIGINT', () => { stopping = true })
  const started = performance.now()

  const property = fc.asyncProperty(requests(family), async (request) => {
    if (stopping) throw new Interrupted('interrupted (Ctrl-C)')
    const index = run++
    try {
      latencies.push((await fuzzer.check(request)).ms)
    } catch (err) {
      if (strict || !(err instanceof FuzzFailure)) throw err
      failures.push({ run: index, message: err.message, request })
      console.log(`\nFAILURE at run ${index} (${replay(index)}):\n${err.message}\n`)
    }
    if (run % progressEvery === 0) console.log(progressLine(fuzzer, run, started))
  })

  let stopped: unknown
  try {
    await fc.assert(property, {
      numRuns: runs, seed, includeErrorInReport: true,
      // collecting failures, the property fails only when interrupted: no shrinking then
      endOnFailure: !args['stop-on-failure'],
      ...(args.path ? { path: args.path } : {}),
    })
    await fuzzer.healthy()
  } catch (err) {
    stopped = err
  }
  const seconds = (performance.now() - started) / 1000
  await server.close()

  console.log(`\n=== summary ===`)
  console.log(`requests   ${fuzzer.sent} of ${runs}${stopping ? ' (interrupted)' : ''}, seed ${seed}, family ${family ?? 'all'}, ${server.database.backend}`)
  console.log(`duration   ${seconds.toFixed(1)} s, ${(fuzzer.sent / seconds).toFixed(0)} requests/s`)
  console.log(`latency    ${percentiles(latencies)}`)
  console.log(`families   ${JSON.stringify(Object.fromEntries(fuzzer.byFamily))}`)
  console.log(`statuses   ${JSON.stringify(Object.fromEntries([...fuzzer.byStatus].sort(([a], [b]) => String(a).localeCompare(String(b)))))}`)
  console.log(`server log ${errorsLogged.length} lines at error level${errorsLogged.length ? `; the first: ${errorsLogged[0]!.slice(0, 600)}` : ''}`)
  if (stopped && !stopping) {
    console.log(`\nstopped by a failure:\n${stopped instanceof Error ? stopped.message : JSON.stringify(stopped)}`)
    return 1
  }
  if (failures.length === 0) {
    console.log('failures   none')
    return 0
  }
  console.log(`failures   ${failures.length}, by kind:`)
  for (const [kind, list] of groupByKind(failures)) {
    console.log(`  ${list.length} x ${kind}\n    first at run ${list[0]!.run}: ${replay(list[0]!.run)}`)
  }
  return 1
}

/** requests so far, per family, statuses, rate. */
function progressLine(fuzzer: Fuzzer, run: number, started: number): string {
  const seconds = (performance.now() - started) / 1000
  const statuses = [...fuzzer.byStatus].sort(([a], [b]) => String(a).localeCompare(String(b))).map(([s, n]) => `${s}:${n}`).join(' ')
  const families = [...fuzzer.byFamily].map(([f, n]) => `${f}:${n}`).join(' ')
  return `${run} requests in ${seconds.toFixed(0)} s (${(run / seconds).toFixed(0)}/s) | ${families} | ${statuses}`
}

function percentiles(ms: number[]): string {
  if (ms.length === 0) return '-'
  const sorted = [...ms].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!.toFixed(1)
  return `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms`
}

/** Failures of one kind: the same first line of the message, the same method and path (placeholders kept). */
function groupByKind(failures: Failure[]): Map<string, Failure[]> {
  const groups = new Map<string, Failure[]>()
  for (const failure of failures) {
    const kind = `${failure.message.split('\n')[0]!.replace(/\d{3,}/g, 'N').slice(0, 160)} (${failure.request.method} ${failure.request.target.split('?')[0]!.slice(0, 80)})`
    groups.set(kind, [...(groups.get(kind) ?? []), failure])
  }
  return groups
}

process.exitCode = await main().catch((err: unknown) => {
  console.error(err)
  return 1
})
