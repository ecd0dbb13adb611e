import fs from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'

/** Skip reason when Debian's Chromium is not installed (.ci/run installs it). */
export const NEEDS_CHROMIUM = fs.existsSync(CHROMIUM) ? false : `install Chromium (apt-get install -y chromium) at ${CHROMIUM}`

/** Headless Debian Chromium, with nothing reaching out to the network on its own. */
export async function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  return await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', ...extraArgs],
  })
}
