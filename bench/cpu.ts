// CPU time spent by one PostCert process and by its own PostgreSQL backends, read from /proc, so a
// benchmark can report milliseconds of CPU per operation for each. Only the backends whose
// application_name is the benchmark's are counted: not every postgres process on a shared machine.
import { execFileSync } from 'node:child_process'
import pg from 'pg'
import { procStat, procStats } from '../test/helpers/process.ts'

const TICK_MS = 1000 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim())

/** User + system CPU (ms) in a process's stat fields (procStat). */
const cpuMsOf = (fields: string[]) => (Number(fields[11]) + Number(fields[12])) * TICK_MS

/** User + system CPU of a process so far (ms), or 0 once it is gone. */
export function processCpuMs(pid: number): number {
  const fields = procStat(pid)
  return fields ? cpuMsOf(fields) : 0
}

/**
 * User + system CPU so far (ms) of this process and of its children it has waited for (a wrk
 * that exited): a load generator's share of the machine.
 */
export function ownCpuMs(): number {
  const fields = procStat(process.pid)!
  return cpuMsOf(fields) + (Number(fields[13]) + Number(fields[14])) * TICK_MS
}

/** User + system CPU so far (ms) of every process that matches (its pid and stat fields). */
export function cpuMsWhere(matches: (pid: number, fields: string[]) => boolean): number {
  return procStats().reduce((total, [pid, fields]) => total + (matches(pid, fields) ? cpuMsOf(fields) : 0), 0)
}

/**
 * CPU of a process group so far (ms): the server started as a group leader, with its workers
 * under WEB_CONCURRENCY. A worker that exits takes its count along.
 */
export const groupCpuMs = (leader: number) => cpuMsWhere((_pid, fields) => Number(fields[2]) === leader)

/** The connection string of the server's database with the benchmark's application_name, which names its backends. */
export function taggedUrl(url: string, applicationName: string): string {
  const tagged = new URL(url)
  tagged.searchParams.set('application_name', applicationName)
  return tagged.href
}

export interface CpuReading {
  server: number
  postgres: Map<number, number>
}

/** Readings of the server (its process group) and of the PostgreSQL backends named `applicationName`. */
export class CpuMeter {
  readonly #serverPid: number
  readonly #applicationName: string
  readonly #admin: pg.Client

  constructor(serverPid: number, adminUrl: string, applicationName: string) {
    this.#serverPid = serverPid
    this.#applicationName = applicationName
    this.#admin = new pg.Client({ connectionString: adminUrl })
  }

  async open(): Promise<void> {
    await this.#admin.connect()
  }

  async read(): Promise<CpuReading> {
    const { rows } = await this.#admin.query<{ pid: number }>('select pid from pg_stat_activity where application_name = $1', [this.#applicationName])
    return { server: groupCpuMs(this.#serverPid), postgres: new Map(rows.map((r) => [r.pid, processCpuMs(r.pid)])) }
  }

  /** CPU ms between two readings: the server's, and the backends' (a backend started meanwhile counts whole). */
  static spent(before: CpuReading, after: CpuReading): { server: number; postgres: number } {
    let postgres = 0
    for (const [pid, ms] of after.postgres) postgres += ms - (before.postgres.get(pid) ?? 0)
    return { server: after.server - before.server, postgres }
  }

  async close(): Promise<void> {
    await this.#admin.end()
  }
}
