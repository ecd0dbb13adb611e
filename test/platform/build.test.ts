import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { after, describe, it } from 'node:test'
import { init, parse } from 'es-module-lexer'
import { build, compile, DIST } from '../../bin/build.ts'
import { createTestSchema, NEEDS_POSTGRES } from '../helpers/db.ts'
import { newMasterKey, ROOT, START_ARGS, startServerProcess } from '../helpers/process.ts'
import { freePort, tempDir } from '../helpers/server.ts'

/** A file's lines' lengths: equal lists mean every line and column of one is the other's. */
const shape = (text: string) => text.split('\n').map((line) => line.length)

describe('the server\'s JavaScript (bin/build.ts)', () => {
  const cleanups: (() => Promise<unknown>)[] = []
  after(async () => { for (const c of cleanups.reverse()) await c() })

  it('has a module for every source, at the same lines and columns, importing the others by their .js names', async () => {
    await init()
    const sources = fs.globSync(['src/**/*.ts', 'migrations/**/*.ts'], { cwd: ROOT }).filter((f) => !f.startsWith('src/browser/') && !f.endsWith('.d.ts'))
    assert.ok(sources.length > 100)
    for (const source of sources) {
      const typescript = fs.readFileSync(path.join(ROOT, source), 'utf8')
      const javascript = fs.readFileSync(path.join(DIST, source.replace(/\.ts$/, '.js')), 'utf8')
      assert.deepEqual(shape(javascript), shape(typescript), `${source}: a stack trace's line and column are the source's`)
      for (const found of parse(javascript)[0]) {
        if (found.type !== 'import-meta' && found.specifier?.startsWith('.')) assert.doesNotMatch(found.specifier, /\.ts$/, `${source} imports ${found.specifier}`)
      }
    }
    assert.ok(fs.existsSync(path.join(DIST, 'src/enrollment/identity/sandbox-persons.json')), 'data beside the sources is copied')
    assert.ok(!fs.existsSync(path.join(DIST, 'src/browser')), 'the pages\' scripts are bundled from src/browser by esbuild, not built here')
  })

  it('strips types as Node does and renames only relative .ts imports, static and dynamic', () => {
    const out = compile('example.ts', [
      'import type { A } from \'./a.ts\'',
      'import { b, type B } from \'../b.ts\'',
      'export { c } from \'./c.ts\'',
      'import data from \'./data.json\' with { type: \'json\' }',
      'import pg from \'pg\'',
      'const d: number = (await import(\'./d.ts\')).default',
      'console.log(import.meta.url, b, d satisfies number, data, pg)',
    ].join('\n'))
    assert.equal(out, [
      '                               ',
      'import { b,        } from \'../b.js\'',
      'export { c } from \'./c.js\'',
      'import data from \'./data.json\' with { type: \'json\' }',
      'import pg from \'pg\'',
      'const d         = (await import(\'./d.js\')).default',
      'console.log(import.meta.url, b, d                 , data, pg)',
    ].join('\n'))
  })

  it('refuses an import it cannot rewrite, naming the file', () => {
    assert.throws(() => compile('src/plugins.ts', 'const name = \'x\'\nawait import(`./plugins/${name}.ts`)'), /^Error: src\/plugins\.ts: an import whose specifier is computed/)
    assert.throws(() => compile('src/plugins.ts', 'const m = \'./x.ts\'\nawait import(m)'), /^Error: src\/plugins\.ts: an import whose specifier is computed \(m\)/)
  })

  it('rebuilds what changed, removes what has no source left, and leaves src/browser out', async () => {
    const root = tempDir('postcert-build-')
    const write = (file: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true })
      fs.writeFileSync(path.join(root, file), text)
    }
    write('src/main.ts', 'import { two } from \'./two.ts\'\nconsole.log(two)\n')
    write('src/two.ts', 'export const two: number = 2\n')
    write('src/types.d.ts', 'declare const x: number\n')
    write('src/data.json', '{"a":1}\n')
    write('src/browser/page.ts', 'export const page: string = \'p\'\n')
    write('migrations/index.ts', 'export const migrations: string[] = []\n')
    assert.deepEqual(await build(root), { written: 4, unchanged: 0, removed: 0 })
    assert.deepEqual(fs.globSync('dist/**/*.*', { cwd: root }).sort(), ['dist/migrations/index.js', 'dist/src/data.json', 'dist/src/main.js', 'dist/src/two.js'])
    assert.equal(fs.readFileSync(path.join(root, 'dist/src/main.js'), 'utf8'), 'import { two } from \'./two.js\'\nconsole.log(two)\n')

    assert.deepEqual(await build(root), { written: 0, unchanged: 4, removed: 0 }, 'nothing changed, nothing written')
    const later = new Date(Date.now() + 2000)
    write('src/two.ts', 'export const two: number = 22\n')
    fs.utimesSync(path.join(root, 'src/two.ts'), later, later)
    fs.rmSync(path.join(root, 'src/data.json'))
    assert.deepEqual(await build(root), { written: 1, unchanged: 2, removed: 1 })
    assert.equal(fs.readFileSync(path.join(root, 'dist/src/two.js'), 'utf8'), 'export const two         = 22\n')
    assert.ok(!fs.existsSync(path.join(root, 'dist/src/data.json')))
  })

  it('removes what a build killed mid-write left, not what a running one is writing', async () => {
    const root = tempDir('postcert-build-')
    fs.mkdirSync(path.join(root, 'src'))
    fs.writeFileSync(path.join(root, 'src/one.ts'), 'export const one: number = 1\n')
    await build(root)
    const gone = spawnSync('true').pid!
    const left = path.join(root, `dist/src/one.js.${gone}.tmp`)
    const writing = path.join(root, `dist/src/one.js.${process.pid}.tmp`)
    for (const file of [left, writing]) fs.writeFileSync(file, 'export const')
    assert.deepEqual(await build(root), { written: 0, unchanged: 1, removed: 1 })
    assert.ok(!fs.existsSync(left), 'its builder is gone')
    assert.ok(fs.existsSync(writing), 'its builder is running')
  })

  it('says in one line that dist/ cannot be written, and builds nothing once it is up to date, as another user', { skip: process.getuid?.() !== 0 && 'needs root, to run the build as nobody' }, async (t) => {
    const script = path.join(ROOT, 'bin/build.ts')
    // Node hands the test runner's coverage directory to child processes, and nobody cannot write
    // it: a directory of their own instead.
    const coverage = tempDir('postcert-build-coverage-')
    fs.chmodSync(coverage, 0o777)
    const nobody = { uid: 65534, gid: 65534, env: { ...process.env, NODE_V8_COVERAGE: coverage }, encoding: 'utf8' as const }
    const loads = spawnSync(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(script).href)})`], nobody)
    if (loads.status !== 0) return t.skip(`nobody cannot run this checkout's Node or build script here: ${loads.error?.message ?? loads.stderr.split('\n')[0]}`)
    const root = tempDir('postcert-build-')
    fs.mkdirSync(path.join(root, 'src'))
    fs.writeFileSync(path.join(root, 'src/one.ts'), 'export const one: number = 1\n')
    await build(root)
    // The checkout readable by everyone, writable by its owner only.
    for (const entry of [root, ...fs.globSync('**/*', { cwd: root }).map((f) => path.join(root, f))]) fs.chmodSync(entry, fs.statSync(entry).isDirectory() ? 0o755 : 0o644)
    const asNobody = () => spawnSync(process.execPath, [script, root], nobody)
    const upToDate = asNobody()
    assert.equal(upToDate.status, 0, upToDate.stderr)
    assert.match(upToDate.stdout, /^dist\/: 0 written, 1 up to date, 0 removed/)
    const later = new Date(Date.now() + 2000)
    fs.utimesSync(path.join(root, 'src/one.ts'), later, later)
    const stale = asNobody()
    assert.equal(stale.status, 1)
    assert.match(stale.stderr, /^\S+\/dist cannot be written \(EACCES: .*\): build it as the user who owns the checkout \(npm run build\)/)
    assert.equal(stale.stderr.trim().split('\n').length, 1, `one line, no stack trace: ${stale.stderr}`)
  })

  it('is what the server runs: it starts and serves with Node\'s TypeScript support turned off', { skip: NEEDS_POSTGRES }, async () => {
    const schema = await createTestSchema()
    cleanups.push(schema.dropSchema)
    const port = await freePort()
    assert.equal(START_ARGS.at(-1), path.join(DIST, 'src/main.js'), 'npm start runs the built server')
    const server = await startServerProcess({ ...schema.env, PORT: String(port), DATA_DIR: tempDir(), POSTCERT_MASTER_KEY: newMasterKey() },
      { args: ['--no-experimental-strip-types', ...START_ARGS] })
    cleanups.push(() => server.stop())
    const discovery = await (await fetch(`http://localhost:${port}/.well-known/openid-configuration`)).json() as { issuer: string }
    assert.equal(discovery.issuer, `http://localhost:${port}`)
    // A page: its views, its bundled script and the sandbox registry are found from dist/ too.
    const page = await fetch(`http://localhost:${port}/`)
    assert.equal(page.status, 200)
    assert.equal(await server.stop(), 0)
  })
})
