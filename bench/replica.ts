// A PostgreSQL primary with a streaming replica, made for a benchmark in a directory of its own
// (nothing of the machine's own cluster is touched): initdb, then pg_basebackup of the primary
// with its standby settings (-R), each on a port of its own, run as the postgres user. Used by
// bench/scale-out.ts --replica.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { freePort } from '../test/helpers/server.ts'

/** PostgreSQL's programs: the newest installed version's (Debian keeps them out of PATH). */
function binDir(): string {
  const root = '/usr/lib/postgresql'
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : []
  if (!versions.length) throw new Error(`no PostgreSQL server programs under ${root} (apt-get install postgresql)`)
  return path.join(root, versions[0]!, 'bin')
}

/** One statement on its own connection. */
async function query<R extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<R>(text, values)).rows
  } finally {
    await client.end()
  }
}

export class ReplicaPair {
  readonly primaryUrl: string
  readonly replicaUrl: string
  readonly #dir: string
  readonly #bin: string

  private constructor(dir: string, bin: string, primaryPort: number, replicaPort: number) {
    this.#dir = dir
    this.#bin = bin
    this.primaryUrl = `postgres://postgres@127.0.0.1:${primaryPort}/postgres`
    this.replicaUrl = `postgres://postgres@127.0.0.1:${replicaPort}/postgres`
  }

  /** Creates and starts both; the replica follows the primary by streaming replication. */
  static async start(): Promise<ReplicaPair> {
    const bin = binDir()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'postcert-replica-'))
    fs.chmodSync(dir, 0o755)
    const [primaryPort, replicaPort] = [await freePort(), await freePort()]
    const pair = new ReplicaPair(dir, bin, primaryPort, replicaPort)
    const primary = path.join(dir, 'primary')
    const replica = path.join(dir, 'replica')
    fs.mkdirSync(primary)
    if (os.userInfo().uid === 0) execFileSync('chown', ['-R', 'postgres:', dir])
    // initdb's default access rules let local connections (replication included) in without a password.
    pair.#run('initdb', ['-D', primary, '-U', 'postgres', '--auth=trust', '--no-sync'])
    fs.appendFileSync(path.join(primary, 'postgresql.conf'), [
      `port = ${primaryPort}`, "listen_addresses = '127.0.0.1'", `unix_socket_directories = '${dir}'`,
      'wal_level = replica', 'max_wal_senders = 4', 'max_connections = 200', 'fsync = on', 'synchronous_commit = on',
    ].join('\n') + '\n')
    pair.#run('pg_ctl', ['-D', primary, '-l', path.join(dir, 'primary.log'), '-w', 'start'])
    pair.#run('pg_basebackup', ['-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'postgres', '-D', replica, '-R', '-X', 'stream', '--no-sync'])
    fs.appendFileSync(path.join(replica, 'postgresql.conf'), `port = ${replicaPort}\nhot_standby = on\n`)
    pair.#run('pg_ctl', ['-D', replica, '-l', path.join(dir, 'replica.log'), '-w', 'start'])
    await pair.#waitStreaming()
    return pair
  }

  /** How far behind the primary the replica's replay is now, in bytes of WAL. */
  async lagBytes(): Promise<number> {
    const [row] = await query<{ lag: string | null }>(this.primaryUrl, 'select pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) as lag from pg_stat_replication')
    return Number(row?.lag ?? Number.NaN)
  }

  /** Index and sequential scans of a table so far, on the primary and on the replica (each counts its own). */
  async scans(schema: string, table: string): Promise<{ primary: number; replica: number }> {
    const read = async (url: string) => {
      const [row] = await query<{ scans: string | null }>(url, 'select coalesce(idx_scan, 0) + coalesce(seq_scan, 0) as scans from pg_stat_user_tables where schemaname = $1 and relname = $2', [schema, table])
      return Number(row?.scans ?? 0)
    }
    return { primary: await read(this.primaryUrl), replica: await read(this.replicaUrl) }
  }

  async stop(): Promise<void> {
    for (const name of ['replica', 'primary']) {
      try {
        this.#run('pg_ctl', ['-D', path.join(this.#dir, name), '-m', 'fast', '-w', 'stop'])
      } catch {
        // not running
      }
    }
    fs.rmSync(this.#dir, { recursive: true, force: true })
  }

  async #waitStreaming(): Promise<void> {
    const deadline = Date.now() + 30_000
    for (;;) {
      const rows = await query<{ state: string }>(this.primaryUrl, 'select state from pg_stat_replication')
      if (rows[0]?.state === 'streaming') return
      if (Date.now() > deadline) throw new Error(`the replica is not streaming (${rows[0]?.state ?? 'not connected'}); see ${this.#dir}/replica.log`)
      await new Promise((r) => setTimeout(r, 200))
    }
  }

  /** A PostgreSQL program, as the postgres user when this runs as root (PostgreSQL refuses root). */
  #run(program: string, args: string[]): void {
    const file = path.join(this.#bin, program)
    if (os.userInfo().uid === 0) execFileSync('runuser', ['-u', 'postgres', '--', file, ...args], { stdio: 'pipe' })
    else execFileSync(file, args, { stdio: 'pipe' })
  }
}
