import fs from 'node:fs'
import path from 'node:path'

/**
 * PGlite is a single-process database: a second process opening the same directory would
 * corrupt it. A lock file holding the owner's pid refuses that with a clear message, and a lock
 * left behind by a dead process is taken over.
 */
export class DataDirLock {
  readonly #file: string

  private constructor(file: string) {
    this.#file = file
  }

  static acquire(dataDir: string): DataDirLock {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 })
    const file = path.join(path.dirname(dataDir), `${path.basename(dataDir)}.lock`)
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(file, String(process.pid), { flag: 'wx', mode: 0o600 })
        return new DataDirLock(file)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
        const owner = Number(fs.readFileSync(file, 'utf8').trim())
        if (owner && owner !== process.pid && isAlive(owner)) {
          throw new DatabaseInUseError(
            `the embedded database in ${dataDir} is in use by process ${owner}; stop that PostCert first, or set DATABASE_URL to use PostgreSQL`,
          )
        }
        fs.rmSync(file, { force: true })
      }
    }
    throw new DatabaseInUseError(`could not lock the embedded database in ${dataDir}`)
  }

  release(): void {
    try {
      if (fs.readFileSync(this.#file, 'utf8').trim() === String(process.pid)) fs.rmSync(this.#file, { force: true })
    } catch {
      // already gone
    }
  }
}

export class DatabaseInUseError extends Error {
  override name = 'DatabaseInUseError'
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
