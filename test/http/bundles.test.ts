import assert from 'node:assert/strict'
import fs from 'node:fs'
import { describe, it } from 'node:test'
import { ROOT_DIR } from '../../src/context.ts'
import { buildBrowserBundles } from '../../src/http/bundles.ts'
import { eventually } from '../helpers/eventually.ts'
import { procStats } from '../helpers/process.ts'

/** This process's children running esbuild (its service process), zombies aside. */
const esbuildChildren = () => procStats().filter(([pid, fields]) => Number(fields[1]) === process.pid && fields[0] !== 'Z' && fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'esbuild').length

describe('the pages\' scripts (src/browser), bundled at start-up', () => {
  it('bundles every entry point, and leaves no esbuild process behind, even when two bundle at once', async () => {
    // Two roots (the same checkout, spelled twice) bundle concurrently: the service stops only after both.
    const [one, two] = await Promise.all([buildBrowserBundles(ROOT_DIR), buildBrowserBundles(`${ROOT_DIR}/`)])
    for (const bundles of [one, two]) {
      assert.deepEqual([...bundles.keys()].sort(), ['code-timer.js', 'console.js', 'enroll-done.js', 'enroll-holder.js', 'login.js', 'sign.js'])
      assert.ok(bundles.get('login.js')!.length > 1000)
    }
    // A stopped service takes a moment to exit.
    assert.equal(await eventually(async () => esbuildChildren(), 0), 0, 'esbuild\'s service process is stopped once bundling is done')
    // A later bundle starts the service again (and stops it again).
    const three = await buildBrowserBundles(`${ROOT_DIR}/.`)
    assert.deepEqual(three, one)
    assert.equal(await eventually(async () => esbuildChildren(), 0), 0)
    assert.equal(await buildBrowserBundles(ROOT_DIR), one, 'built once per root')
  })
})
