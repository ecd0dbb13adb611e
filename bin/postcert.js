#!/usr/bin/env node
// The `postcert` command. PostCert needs Node.js 24; when the shell's node is older, re-run the
// CLI with the node@24 that `npm install` put in node_modules.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { enableCompileCache } from 'node:module'
import { fileURLToPath } from 'node:url'

const cli = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url))
const major = Number(process.versions.node.split('.')[0])

if (major >= 24) {
  // Node keeps the compiled modules (and the stripped TypeScript) in its cache directory, so a
  // command starts in about two-thirds of the time after its first run.
  enableCompileCache()
  await import(cli)
} else {
  const local = fileURLToPath(new URL('../node_modules/node/bin/node', import.meta.url))
  if (!existsSync(local)) {
    process.stderr.write(`postcert: needs Node.js 24 or later (this is ${process.version}); run npm install first\n`)
    process.exit(1)
  }
  const result = spawnSync(local, [cli, ...process.argv.slice(2)], { stdio: 'inherit' })
  process.exit(result.status ?? 1)
}
