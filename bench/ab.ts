// Two PostCert builds measured at the same time: this checkout (B) and a base checkout (A), each
// its own process and schema on the same PostgreSQL, the load generator's work alternated between
// them operation by operation. Both see the same machine at every moment, so a change of a few
// per cent shows as the ratio of their CPU per operation, where runs one after another (bench/run.ts
// --compare) drown it in the machine's drift (a third, once half, within the hour on the development
// machine). Run by hand:
//   git worktree add /tmp/base <commit>; ln -s "$PWD/node_modules" /tmp/base/node_modules
//   DATABASE_URL=postgres://postgres@127.0.0.1:5432/test npm run bench:ab -- --base /tmp/base [options]
//     --workload W       logins (complete flows, 6 requests; the default) or refresh (rotating)
//     --rounds N         measured rounds (5), each reported, after one unmeasured round of warm-up
//     --seconds N        per round (10)
//     --connections N    concurrent browsers or refresh chains, half on each build (16)
//     --env-a K=V,…      settings for A's server only (e.g. DATABASE_POOL_SIZE=4); --env-b for B's.
//                        With --base . both sides are this checkout: settings compared alone.
// The base is built first (its own bin/build.ts). Both must have the same migrations: the base's
// server would refuse a schema with a migration it does not know.
import { execFileSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { CpuMeter, type CpuReading } from './cpu.ts'
import { agent, benchTarget, LoginDriver, prepareLogins, refreshChains, serverEnv } from './flows.ts'
import { loop } from './loop.ts'
import { ROOT, START_ARGS, START_ENV, startServerProcess, type ServerProcess } from '../test/helpers/process.ts'
import { tempDir } from '../test/helpers/server.ts'

const { values: args } = parseArgs({
  options: {
    base: { type: 'string' }, workload: { type: 'string', default: 'logins' },
    rounds: { type: 'string', default: '5' }, seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '16' },
    'env-a': { type: 'string', default: '' }, 'env-b': { type: 'string', default: '' },
  },
})
const fail = (message: string): never => {
  console.error(message)
  process.exit(2)
}
if (!process.env.DATABASE_URL) fail('set DATABASE_URL (the benchmark measures PostCert on PostgreSQL)')
if (!args.base) fail('--base CHECKOUT is required: the checkout to compare this one against (git worktree add /tmp/base <commit>)')
if (!['logins', 'refresh'].includes(args.workload)) fail(`--workload must be logins or refresh, not ${args.workload}`)
const base = path.resolve(args.base!)
const [rounds, seconds, connections] = [args.rounds, args.seconds, args.connections].map(Number) as [number, number, number]
if (![rounds, seconds, connections].every((n) => Number.isInteger(n) && n > 0)) fail('--rounds, --seconds and --connections must be positive integers')
if (connections % 2) fail('--connections must be even: half of them on each build')

/** `K=V,K=V` as an environment for one side's server. */
const settings = (text: string, flag: string): Record<string, string> => Object.fromEntries(text.split(',').filter(Boolean).map((pair) => {
  const at = pair.indexOf('=')
  if (at < 1) fail(`${flag} takes NAME=value pairs separated by commas, not ${pair}`)
  return [pair.slice(0, at), pair.slice(at + 1)]
}))
const extra = { A: settings(args['env-a'], '--env-a'), B: settings(args['env-b'], '--env-b') }

/** The migrations of a checkout, by name and content. */
const migrationsOf = (checkout: string) => {
  const dir = path.join(checkout, 'migrations')
  if (!fs.existsSync(dir)) fail(`${checkout} is not a PostCert checkout (no migrations/)`)
  return fs.readdirSync(dir).sort().map((name) => `${name} ${crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, name))).digest('hex')}`).join('\n')
}
if (migrationsOf(base) !== migrationsOf(ROOT)) fail(`${base} has other migrations than this checkout: compare them one after the other (npm run bench -- --compare)`)
const describe = (checkout: string) => execFileSync('git', ['-C', checkout, 'log', '-1', '--format=%h %s']).toString().trim().slice(0, 90)
console.log(`building the base (${describe(base)}) ...`)
execFileSync(process.execPath, [path.join(base, 'bin/build.ts')], { cwd: base, stdio: 'inherit' })

interface Side {
  name: 'A' | 'B'
  server: ServerProcess
  meter: CpuMeter
  /** One operation on this build by connection `worker` (its own refresh chain). */
  operation: (worker: number, i: number) => Promise<void>
  dropSchema: () => Promise<void>
}

/** A build's server on a schema of its own, with what the workload needs prepared (not timed). */
async function start(name: 'A' | 'B', checkout: string): Promise<Side> {
  const target = await benchTarget()
  const { schema, issuer, redirectUri, masterKey, applicationName } = target
  const { rp, holders } = await prepareLogins(schema, { issuer, masterKey, redirectUri, subscribers: 64 })
  const env = { ...serverEnv(target, tempDir('postcert-ab-')), MALLOC_ARENA_MAX: START_ENV.MALLOC_ARENA_MAX, ...extra[name] }
  const server = await startServerProcess(env, { args: [...START_ARGS.slice(0, -1), path.join(checkout, 'dist/src/main.js')], cwd: checkout })
  const meter = new CpuMeter(server.child.pid!, process.env.DATABASE_URL!, applicationName)
  await meter.open()
  const driver = await LoginDriver.discover(issuer, redirectUri, rp)
  let operation: Side['operation']
  if (args.workload === 'logins') {
    operation = async (worker, i) => { await driver.flow(holders[(worker + i * connections) % holders.length]!) }
  } else {
    // One rotating chain per connection, as bench/run.ts's refresh.
    operation = await refreshChains(driver, issuer, rp, holders, connections)
  }
  return { name, server, meter, operation, dropSchema: () => schema.dropSchema() }
}

const started: Side[] = []
/** Stops the servers started and drops their schemas (also when the second fails to start). */
async function stopAll(): Promise<void> {
  for (const side of started) {
    await side.meter.close()
    await side.server.stop()
    await side.dropSchema()
  }
  agent.destroy()
}
let sides: readonly [Side, Side]
try {
  started.push(await start('A', base))
  started.push(await start('B', ROOT))
  sides = [started[0]!, started[1]!]
} catch (err) {
  await stopAll()
  throw err
}
const unit = args.workload === 'logins' ? 'flows' : 'tokens'
const fixed = (n: number, digits = 3) => n.toFixed(digits)
try {
  const shown = (env: Record<string, string>) => (Object.keys(env).length ? ` [${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')}]` : '')
  console.log(`A: ${describe(base)}${shown(extra.A)}\nB: ${describe(ROOT)}${execFileSync('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no']).toString().trim() ? ' (with uncommitted changes)' : ''}${shown(extra.B)}`)
  console.log(`${args.workload}: ${connections} connections, each alternating between A and B; ${rounds} rounds of ${seconds} s after one of warm-up; CPU ms per ${unit.slice(0, -1)}`)
  console.log(`\n${'round'.padEnd(6)} ${`A ${unit}/s`.padStart(12)} ${`B ${unit}/s`.padStart(12)}   A server / PostgreSQL   B server / PostgreSQL   B/A server  B/A PostgreSQL  B/A both`)
  const ratios: { server: number; postgres: number; both: number }[] = []
  for (let round = 0; round <= rounds; round++) {
    const ops = [0, 0]
    let errors = 0
    const before: CpuReading[] = await Promise.all(sides.map((s) => s.meter.read()))
    const started = performance.now()
    // Connection w's i-th operation goes to side (w + i) % 2: at every moment half the connections are on each.
    await loop({ workers: connections, seconds, onDone: (ok) => { if (!ok) errors++ } }, async (worker, i) => {
      const side = (worker + i) % 2
      await sides[side]!.operation(worker, i)
      ops[side] = ops[side]! + 1
    })
    const elapsed = (performance.now() - started) / 1000
    const spent = await Promise.all(sides.map(async (s, i) => CpuMeter.spent(before[i]!, await s.meter.read())))
    if (round === 0) continue // warm-up: both builds' hot paths compiled
    const per = spent.map((cpu, i) => ({ server: cpu.server / ops[i]!, postgres: cpu.postgres / ops[i]! }))
    const [a, b] = per as [{ server: number; postgres: number }, { server: number; postgres: number }]
    const ratio = { server: b.server / a.server, postgres: b.postgres / a.postgres, both: (b.server + b.postgres) / (a.server + a.postgres) }
    ratios.push(ratio)
    console.log(`${String(round).padEnd(6)} ${fixed(ops[0]! / elapsed, 0).padStart(12)} ${fixed(ops[1]! / elapsed, 0).padStart(12)}   ${`${fixed(a.server)} / ${fixed(a.postgres)}`.padEnd(22)}  ${`${fixed(b.server)} / ${fixed(b.postgres)}`.padEnd(22)}  ${fixed(ratio.server).padStart(10)}  ${fixed(ratio.postgres).padStart(14)}  ${fixed(ratio.both).padStart(8)}${errors ? `   ${errors} errors` : ''}`)
  }
  const range = (key: 'server' | 'postgres' | 'both') => {
    const values = ratios.map((r) => r[key]).sort((x, y) => x - y)
    return `${fixed(values[0]!)}–${fixed(values.at(-1)!)} (median ${fixed(values[Math.floor(values.length / 2)]!)})`
  }
  console.log(`\nB/A, CPU per ${unit.slice(0, -1)}: server ${range('server')}; PostgreSQL ${range('postgres')}; both ${range('both')}. Below 1: B spends less.`)
} finally {
  await stopAll()
}
