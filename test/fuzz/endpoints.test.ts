import { randomInt } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import fc from 'fast-check'
import pino from 'pino'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { Fixtures } from './fixtures.ts'
import { Fuzzer } from './fuzzer.ts'
import { FAMILIES, requests } from './requests.ts'

// Issue #14: property-based fuzzing of every endpoint family, at a size CI runs in well under a
// minute. FUZZ_RUNS: requests in all (split evenly across the families); FUZZ_SEED: replay a
// run; FUZZ_PATH (with FUZZ_SEED and --test-name-pattern=<family>): replay one counterexample.
// Long runs: fuzz/run.ts.
const RUNS = Number(process.env.FUZZ_RUNS ?? 3000)
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : randomInt(2 ** 31)
const PATH = process.env.FUZZ_PATH

describe('fuzzing every endpoint family: never a 5xx, nothing internal in a body, the server still answers', () => {
  let server: TestServer
  let fuzzer: Fuzzer
  const errorsLogged: string[] = []

  before(async () => {
    // Behind a trusted proxy, so that each request can come from its own address (X-Forwarded-For)
    // and per-address limits do not turn everything into 429; test mode adds /test-login.
    const logger = pino({ level: 'error' }, { write: (line: string) => { errorsLogged.push(line) } })
    server = await startTestServer({ env: { TRUST_PROXY: 'true', POSTCERT_TEST_MODE: 'true' }, overrides: { logger } })
    fuzzer = new Fuzzer(server.url, await Fixtures.create(server))
    console.log(`# fuzz seed ${SEED} (FUZZ_SEED=${SEED} replays this run)`)
  })
  after(async () => { await server?.close() })

  for (const family of FAMILIES) {
    it(`${family}: hostile requests get a 4xx or a normal answer, never a server error or an internal detail`, async (t) => {
      t.diagnostic(`seed ${SEED}: replay with FUZZ_SEED=${SEED}; one counterexample: FUZZ_SEED=${SEED} FUZZ_PATH=<path> --test-name-pattern=${family}, or node fuzz/run.ts --family ${family} --seed ${SEED} --path <path>`)
      const property = fc.asyncProperty(requests(family), async (request) => { await fuzzer.check(request) })
      await fc.assert(property, {
        numRuns: Math.ceil(RUNS / FAMILIES.length), seed: SEED, includeErrorInReport: true,
        ...(PATH ? { path: PATH, endOnFailure: true } : {}),
      })
    })
  }

  it('still answers afterwards', async (t) => {
    await fuzzer.healthy()
    t.diagnostic(`${fuzzer.sent} requests; by family ${JSON.stringify(Object.fromEntries(fuzzer.byFamily))}`)
    t.diagnostic(`statuses ${JSON.stringify(Object.fromEntries([...fuzzer.byStatus].sort(([a], [b]) => String(a).localeCompare(String(b)))))}`)
    if (errorsLogged.length) t.diagnostic(`the server logged ${errorsLogged.length} lines at error level; the first: ${errorsLogged[0]!.slice(0, 1000)}`)
  })
})
