// Lint (npm run lint, part of npm test) with typescript-eslint's type information, for what tsc
// does not see: promises whose failure nobody hears (floating, or handed where a callback's result
// is ignored), switches that miss a case, values that print as "[object Object]". The layout rules
// (@stylistic) are the formatter: `npm run format` applies them, `npm run lint` refuses what breaks them.
import stylistic from '@stylistic/eslint-plugin'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'public/', 'test-artifacts/', 'data/', '.conformance/'] },
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
  {
    // The server and the pages' scripts: all of typescript-eslint's type-checked recommendations
    // (values typed any may not flow on unchecked), less two that do not fit.
    files: ['src/**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    rules: {
      // oidc-provider's and Kysely's hooks are declared to return promises; some have nothing to await.
      '@typescript-eslint/require-await': 'off',
      // A leading underscore names what a destructuring leaves out on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { varsIgnorePattern: '^_', argsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true }],
      // Both are tightened in the block above for all code; restated so the recommendations do not loosen them.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { variables: false } }],
      '@typescript-eslint/restrict-template-expressions': ['error', {
        allowNumber: true, allowBoolean: true, allowNullish: true, allowArray: true,
        allow: [{ from: 'lib', name: ['URL', 'URLSearchParams'] }, { from: 'package', package: 'url', name: ['URL', 'URLSearchParams'] }],
      }],
    },
  },
  {
    files: ['**/*.ts', '**/*.js'],
    plugins: { '@stylistic': stylistic },
    rules: {
      '@stylistic/indent': ['error', 2, { SwitchCase: 1, flatTernaryExpressions: true, offsetTernaryExpressions: false, ignoredNodes: ['ConditionalExpression', 'ConditionalExpression *', 'TemplateLiteral *'] }],
      '@stylistic/quotes': ['error', 'single', { avoidEscape: true, allowTemplateLiterals: 'always' }],
      '@stylistic/semi': ['error', 'never'],
      '@stylistic/comma-dangle': ['error', 'always-multiline'],
      '@stylistic/comma-spacing': 'error',
      '@stylistic/object-curly-spacing': ['error', 'always'],
      '@stylistic/array-bracket-spacing': 'error',
      '@stylistic/space-infix-ops': 'error',
      '@stylistic/keyword-spacing': 'error',
      '@stylistic/arrow-spacing': 'error',
      '@stylistic/space-before-blocks': 'error',
      '@stylistic/no-trailing-spaces': 'error',
      '@stylistic/eol-last': 'error',
      '@stylistic/no-multiple-empty-lines': ['error', { max: 1, maxBOF: 0, maxEOF: 0 }],
      '@stylistic/no-multi-spaces': ['error', { ignoreEOLComments: true }],
      '@stylistic/type-annotation-spacing': 'error',
      '@stylistic/key-spacing': 'error',
      '@stylistic/brace-style': ['error', '1tbs', { allowSingleLine: true }],
      '@stylistic/space-in-parens': 'error',
      '@stylistic/space-before-function-paren': ['error', { anonymous: 'always', named: 'never', asyncArrow: 'always' }],
    },
  },
)
