// `npm run build` (and npm start's prestart): the server's JavaScript, in dist/.
//
// Node 24 runs the TypeScript sources as they are, but a process that does loads Node's type
// stripper (a WebAssembly build of swc) and keeps it: 10-17 MB more resident memory per server
// process, measured (docs/sizing.md, Memory). So the server runs from dist/, where each file of
// src/ (but src/browser/, which esbuild bundles for the pages) and migrations/ is what Node would
// have run: the same stripper's output, types replaced by spaces, so every line and column in a
// stack trace is the source's. Only the relative imports change, from `.ts` to `.js` (the same
// length). Other files there (JSON) are copied. The CLI, the tests and `node src/main.ts` keep
// running the sources.
//
// Incremental: a file whose output is newer than its source (and than this script) is left alone,
// and an output whose source is gone is removed. Outputs are written to a temporary name (with the
// builder's pid) and renamed, so concurrent builds (test files run in parallel each make sure of
// it) never leave a half-written file; a temporary whose builder is gone (killed mid-write) is
// removed by the next build.
//
// `node bin/build.ts [ROOT]` builds the checkout at ROOT (this one by default). A dist/ it cannot
// write (a checkout owned by another user) is one line on stderr and exit code 1.
import fs from 'node:fs'
import path from 'node:path'
import { stripTypeScriptTypes } from 'node:module'
import { fileURLToPath } from 'node:url'
import { init, parse } from 'es-module-lexer'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
/** Where the checkout's server JavaScript goes; `npm start` runs dist/src/main.js. */
export const DIST = path.join(ROOT, 'dist')
const SOURCES = ['src', 'migrations']
const SKIPPED = [path.join('src', 'browser')]
/** How a file being written ends: `<output>.<pid of its builder>.tmp`. */
const TEMPORARY = '.tmp'

export interface BuildReport {
  /** Files written (their source changed or had no output yet). */
  written: number
  /** Files whose output was up to date. */
  unchanged: number
  /** Outputs removed because their source is gone. */
  removed: number
}

/** Builds `root`/dist/ from its sources (the checkout's by default): see the top of this file. Throws, naming the file, on an import it cannot rewrite. */
export async function build(root = ROOT): Promise<BuildReport> {
  const dist = path.join(root, 'dist')
  await init()
  const report: BuildReport = { written: 0, unchanged: 0, removed: 0 }
  const expected = new Set<string>()
  const builder = fs.statSync(fileURLToPath(import.meta.url)).mtimeMs
  for (const source of sourceFiles(root)) {
    const output = path.join(dist, source.endsWith('.ts') ? source.slice(0, -3) + '.js' : source)
    expected.add(output)
    const from = path.join(root, source)
    const built = fs.statSync(output, { throwIfNoEntry: false })?.mtimeMs ?? 0
    if (built >= fs.statSync(from).mtimeMs && built >= builder) {
      report.unchanged++
      continue
    }
    const text = source.endsWith('.ts') ? compile(source, fs.readFileSync(from, 'utf8')) : fs.readFileSync(from)
    fs.mkdirSync(path.dirname(output), { recursive: true })
    const temporary = `${output}.${process.pid}${TEMPORARY}`
    fs.writeFileSync(temporary, text)
    fs.renameSync(temporary, output)
    report.written++
  }
  for (const entry of fs.globSync('**/*', { cwd: dist, withFileTypes: true })) {
    const file = path.join(entry.parentPath, entry.name)
    if (entry.isFile() && !expected.has(file) && (!file.endsWith(TEMPORARY) || !writerAlive(file))) {
      fs.rmSync(file, { force: true })
      report.removed++
    }
  }
  return report
}

/** Whether the build writing this temporary is still running (its pid is in the name). */
function writerAlive(temporary: string): boolean {
  const pid = Number(/\.(\d+)\.tmp$/.exec(temporary)?.[1])
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: alive, another user's.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The files the server is made of, relative to the checkout: TypeScript (not declarations) and the data beside it. */
function sourceFiles(root: string): string[] {
  return SOURCES.flatMap((dir) => fs.globSync(`${dir}/**/*`, { cwd: root, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)))
    .filter((file) => !file.endsWith('.d.ts') && !SKIPPED.some((skipped) => file.startsWith(skipped + path.sep))))
    .sort()
}

/** One module: Node's own type stripping, then its relative `.ts` imports pointed at the `.js` outputs. */
export function compile(file: string, typescript: string): string {
  const javascript = quietly(() => stripTypeScriptTypes(typescript, { mode: 'strip' }))
  const [imports] = parse(javascript, file)
  let out = javascript
  for (const found of imports) {
    if (found.type === 'import-meta') continue
    const { specifier, start, end } = found
    if (specifier === undefined || (found.type === 'dynamic' && found.glob)) {
      throw new Error(`${file}: an import whose specifier is computed (${javascript.slice(start, end)}); the build can only rewrite literal ones`)
    }
    if (!/^\.\.?\//.test(specifier) || !specifier.endsWith('.ts')) continue
    // A dynamic import's span holds the quotes too; the extension ends the specifier either way.
    const at = out.lastIndexOf('.ts', end)
    if (at < start) throw new Error(`${file}: could not find the extension of '${specifier}'`)
    out = out.slice(0, at) + '.js' + out.slice(at + 3)
  }
  return out
}

/** stripTypeScriptTypes warns once per process that it is experimental; that is the stripper Node itself runs the sources with. */
function quietly<T>(run: () => T): T {
  const original = process.emitWarning
  const emit = original.bind(process) as (...args: unknown[]) => void
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (!(typeof warning === 'string' ? warning : warning.message).startsWith('stripTypeScriptTypes')) emit(warning, ...rest)
  }) as typeof process.emitWarning
  try {
    return run()
  } finally {
    process.emitWarning = original
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = path.resolve(process.argv[2] ?? ROOT)
  const started = performance.now()
  try {
    const report = await build(root)
    console.log(`dist/: ${report.written} written, ${report.unchanged} up to date, ${report.removed} removed (${Math.round(performance.now() - started)} ms)`)
  } catch (error) {
    const { code, path: where } = error as NodeJS.ErrnoException
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw error
    console.error(`${path.join(root, 'dist')} cannot be written (${code}${where ? `: ${where}` : ''}): build it as the user who owns the checkout (npm run build); once it is up to date, npm start builds nothing and runs as any user`)
    process.exitCode = 1
  }
}
