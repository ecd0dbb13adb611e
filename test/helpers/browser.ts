import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { chromium, type Browser } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'

/** Skip reason when Debian's Chromium is not installed (.ci/run installs it). */
export const NEEDS_CHROMIUM = fs.existsSync(CHROMIUM) ? false : `install Chromium (apt-get install -y chromium) at ${CHROMIUM}`

/**
 * Headless Debian Chromium, with nothing reaching out to the network on its own. One test file at
 * a time has a browser (the lock below): test files run two at a time, and two Chromiums with a
 * PostCert each on a 2-core machine made a page's 30-second wait run out.
 */
export async function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  await BROWSER_LOCK.acquire()
  try {
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', ...extraArgs],
    })
    browser.once('disconnected', () => BROWSER_LOCK.release())
    return browser
  } catch (err) {
    BROWSER_LOCK.release()
    throw err
  }
}

/**
 * A lock across test processes, held from a browser's launch to its close: a file holding the
 * owner's pid, taken over when that process is gone. Within one process it is counted (a file
 * may open a browser per suite).
 */
class ProcessLock {
  readonly #file: string
  #held = 0

  constructor(file: string) {
    this.#file = file
  }

  async acquire(): Promise<void> {
    while (this.#held === 0) {
      try {
        fs.writeFileSync(this.#file, String(process.pid), { flag: 'wx' })
        break
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
        // An empty file is one being written: its owner is alive.
        const owner = readOwner(this.#file)
        if (owner !== undefined && owner !== '' && !isAlive(Number(owner))) fs.rmSync(this.#file, { force: true })
        else if (owner !== undefined) await new Promise((resolve) => setTimeout(resolve, 200))
      }
    }
    this.#held++
  }

  release(): void {
    if (this.#held === 0 || --this.#held > 0) return
    fs.rmSync(this.#file, { force: true })
  }
}

/** The pid a lock file holds ('' while it is being written), or undefined when it is gone. */
function readOwner(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim()
  } catch {
    return undefined
  }
}

function isAlive(pid: number): boolean {
  if (!pid) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

const BROWSER_LOCK = new ProcessLock(path.join(os.tmpdir(), `postcert-test-browser-${process.getuid?.() ?? 0}.lock`))
