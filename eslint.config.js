// Lint (npm run lint, part of npm test) with typescript-eslint's type information, for what tsc
// does not see: promises whose failure nobody hears (floating, or handed where a callback's result
// is ignored), switches that miss a case, values that print as "[object Object]".
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/', 'public/', 'test-artifacts/', 'data/', '.conformance/'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: {
      parserOptions: { project: ['./tsconfig.json', './src/browser/tsconfig.json'], tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', {
        // node:test's describe/it return promises the runner itself awaits.
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }],
      }],
      // Koa's app.callback() handles its own errors; a promise handed as a callback argument must not.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { variables: false } }],
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/no-base-to-string': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', {
        allowNumber: true, allowBoolean: true, allowNullish: true, allowArray: true,
        allow: [{ from: 'lib', name: ['URL', 'URLSearchParams'] }, { from: 'package', package: 'url', name: ['URL', 'URLSearchParams'] }],
      }],
      '@typescript-eslint/await-thenable': 'error',
    },
  },
)
