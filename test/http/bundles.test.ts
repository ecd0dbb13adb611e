import assert from 'node:assert/strict'
import fs from 'node:fs'
import { describe, it } from 'node:test'
import { ROOT_DIR } from '../../src/context.ts'
import { buildBrowserBundles } from '../../src/http/bundles.ts'
import { procStats } from '../helpers/process.ts'

/** This process's children running esbuild (its service process), once those being stopped had a second to exit. */
async function esbuildChildren(): Promise<number[]> {
  const running = () => procStats().filter(([pid, fields]) => Number(fields[1]) === process.pid && fields[0] !== 'Z' && fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'esbuild').map(([pid]) => pid)
  for (let waited = 0; running().length && waited < 1000; waited += 50) await new Promise((r) => setTimeout(r, 50))
  return running()
}

describe('the pages\' scripts (src/browser), bundled at start-up', () => {
  it('bundles every entry point, and leaves no esbuild process behind, even when two bundle at once', async () => {
    // Two roots (the same checkout, spelled twice) bundle concurrently: the service stops only after both.
    const [one, two] = await Promise.all([buildBrowserBundles(ROOT_DIR), buildBrowserBundles(`${ROOT_DIR}/`)])
    for (const bundles of [one, two]) {
      assert.deepEqual([...bundles.keys()].sort(), ['code-timer.js', 'console.js', 'enroll-done.js', 'enroll-holder.js', 'login.js', 'sign.js'])
      assert.ok(bundles.get('login.js')!.length > 1000)
    }
    assert.deepEqual(await esbuildChildren(), [], 'esbuild\'s service process is stopped once bundling is done')
    // A later bundle starts the service again (and stops it again).
    const three = await buildBrowserBundles(`${ROOT_DIR}/.`)
    assert.deepEqual(three, one)
    assert.deepEqual(await esbuildChildren(), [])
    assert.equal(await buildBrowserBundles(ROOT_DIR), one, 'built once per root')
  })
})
