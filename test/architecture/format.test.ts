import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ESLint } from 'eslint'
import { ROOT_DIR } from '../../src/context.ts'

describe('the formatter (npm run format; npm run lint refuses what it would change)', () => {
  const eslint = new ESLint({ cwd: ROOT_DIR })

  it('refuses a layout other than the project\'s, and npm run format puts it right', async () => {
    const messy = 'const a = { b:"c", d : [ 1,2 ] };\nif(a){\n    console.log( a )\n}\n\n\n'
    const [result] = await eslint.lintText(messy, { filePath: 'fixture.js' })
    const rules = new Set(result!.messages.map((m) => m.ruleId))
    for (const rule of ['quotes', 'semi', 'key-spacing', 'array-bracket-spacing', 'comma-spacing', 'keyword-spacing', 'indent', 'no-multiple-empty-lines', 'space-in-parens']) {
      assert.ok(rules.has(`@stylistic/${rule}`), `@stylistic/${rule} in ${[...rules].join(', ')}`)
    }
    const [fixed] = await new ESLint({ cwd: ROOT_DIR, fix: true }).lintText(messy, { filePath: 'fixture.js' })
    assert.equal(fixed!.output, "const a = { b: 'c', d: [1, 2] }\nif (a) {\n  console.log(a)\n}\n")
  })
})
