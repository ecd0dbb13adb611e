import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from '../../bin/build.ts'

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/**
 * The fields of /proc/PID/stat after the command name (which may hold spaces): state is the
 * first, pgrp the 3rd, utime the 12th, stime the 13th, cutime and cstime (children waited for)
 * the 14th and 15th. Undefined once the process is gone.
 */
export function procStat(pid: number): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return undefined
  }
}

/** The pids of every process in /proc, with their stat fields (procStat), those gone meanwhile left out. */
export function procStats(): [pid: number, fields: string[]][] {
  return fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).flatMap((entry) => {
    const fields = procStat(Number(entry))
    return fields ? [[Number(entry), fields] as [number, string[]]] : []
  })
}

export interface ServerProcess {
  url: string
  child: ChildProcess
  output(): string
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>
}

/** Environment for child processes: the test's settings only, not the developer's shell. */
export function childEnv(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: process.env.TMPDIR,
    // The admin API's default port (3001) would be shared by every server a test starts.
    NODE_ENV: 'test', LOG_LEVEL: 'info', ADMIN_PORT: 'off', ...env,
  }
}

const START_SCRIPT = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start.split(' ')

/** The script `npm start` runs: the built dist/src/main.js (bin/build.ts), brought up to date once per test process. */
export const SERVER_MAIN = path.join(ROOT, START_SCRIPT.at(-1)!)
await build()

/** The server's command line as `npm start` has it (package.json: its Node flags), without npm in between. */
export const START_ARGS = [...START_SCRIPT.filter((a) => a.startsWith('--')), SERVER_MAIN]

/** The defaults `npm start` gives the environment (its `NAME=${NAME:-value}` words), for a server started without npm. */
export const START_ENV: Record<string, string> = Object.fromEntries(START_SCRIPT.flatMap((word) => {
  const set = /^([A-Z_]+)=\$\{\1:-([^}]*)\}$/.exec(word)
  return set ? [[set[1]!, set[2]!]] : []
}))

export const newMasterKey = () => randomBytes(32).toString('base64url')

/** Starts `command args` (default: the server) and waits until /healthz answers. */
export async function startServerProcess(env: Record<string, string | undefined>, options: {
  command?: string
  args?: string[]
  timeoutMs?: number
  /** Working directory (default: the checkout). */
  cwd?: string
  /** Run as this user and group (the caller must be root). */
  uid?: number
  gid?: number
} = {}): Promise<ServerProcess & { startedInMs: number }> {
  const started = Date.now()
  const child = spawn(options.command ?? process.execPath, options.args ?? [SERVER_MAIN], {
    // Its own process group, so stop() reaches the server even when npm stands in between.
    cwd: options.cwd ?? ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid ?? options.uid }),
  })
  let output = ''
  child.stdout!.on('data', (d) => { output += d })
  child.stderr!.on('data', (d) => { output += d })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const url = env.PUBLIC_URL ?? `http://localhost:${env.PORT}`
  const deadline = started + (options.timeoutMs ?? 60_000)
  let alive = true
  void exited.then(() => { alive = false })
  while (true) {
    if (!alive) throw new Error(`server exited during start-up:\n${output}`)
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`server did not answer /healthz in time:\n${output}`)
    }
    try {
      const res = await fetch(`http://127.0.0.1:${env.PORT}/healthz`)
      if (res.ok) break
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  return {
    url, child, startedInMs: Date.now() - started,
    output: () => output,
    stop: async () => {
      if (alive) signalGroup(child.pid!, 'SIGTERM')
      const code = await exited
      await waitForGroupExit(child.pid!)
      return code
    },
  }
}

/** Runs `postcert ...args` to completion. */
export async function runCli(args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/postcert.js'), ...args], {
    cwd: ROOT, env: childEnv({ LOG_LEVEL: 'warn', ...env }), stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => { stdout += d })
  child.stderr.on('data', (d) => { stderr += d })
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)))
  return { code, stdout, stderr }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal)
  } catch {
    // already gone
  }
}

/** Waits until every process of the group has exited; SIGKILLs stragglers after 15 s. */
async function waitForGroupExit(pid: number): Promise<void> {
  const deadline = Date.now() + 15_000
  while (true) {
    try {
      process.kill(-pid, 0)
    } catch {
      return
    }
    if (Date.now() > deadline) {
      signalGroup(pid, 'SIGKILL')
      return
    }
    await new Promise((r) => setTimeout(r, 50))
  }
}
