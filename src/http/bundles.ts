import path from 'node:path'
import { build, stop } from 'esbuild'

/** Browser entry points (src/browser), served as /assets/<name>.js. */
const ENTRIES = ['enroll-holder', 'enroll-done', 'login', 'sign', 'code-timer', 'console']

/**
 * Bundles the browser TypeScript at start-up, in memory (a few tens of milliseconds): no build
 * step to forget, no generated files, and PostCert serves every script itself (no CDN).
 */
export async function buildBrowserBundles(rootDir: string): Promise<Map<string, Uint8Array>> {
  // Built once per process: the public site and the management listener serve the same files.
  let built = cache.get(rootDir)
  if (!built) {
    built = bundle(rootDir)
    cache.set(rootDir, built)
    built.catch(() => cache.delete(rootDir))
  }
  return await built
}

const cache = new Map<string, Promise<Map<string, Uint8Array>>>()
let building = 0

async function bundle(rootDir: string): Promise<Map<string, Uint8Array>> {
  building++
  try {
    const result = await build({
      entryPoints: Object.fromEntries(ENTRIES.map((name) => [name, path.join(rootDir, 'src/browser', `${name}.ts`)])),
      bundle: true, format: 'esm', platform: 'browser', target: ['es2022'], minify: true,
      write: false, outdir: '/assets', logLevel: 'silent', legalComments: 'none',
    })
    return new Map(result.outputFiles.map((file) => [path.basename(file.path), file.contents]))
  } finally {
    // esbuild's service process would otherwise live as long as the server, about 18 MB resident
    // doing nothing (#19). Stopped once no bundle is in progress; a later build starts it again.
    if (--building === 0) await stop()
  }
}
