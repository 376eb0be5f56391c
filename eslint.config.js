// ESLint: the TypeScript rules that catch real defects here (a promise nobody
// awaits loses an error or a Kubernetes write), and a fence that keeps the
// workflow code free of I/O, which Temporal replays and must stay deterministic.
import { builtinModules } from 'node:module';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tmp/'] },
  {
    files: ['src/**/*.ts', 'test/**/*.ts'],
    extends: [tseslint.configs.recommended],
    languageOptions: { parserOptions: { project: ['./tsconfig.test.json'] } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [...builtinModules, '@temporalio/activity', '@temporalio/client', '@temporalio/worker', '@kubernetes/client-node']
          .map((name) => ({ name, message: 'workflow code runs in a deterministic sandbox: no I/O; do it in an activity' })),
        patterns: [
          { group: ['node:*'], message: 'workflow code runs in a deterministic sandbox: no Node built-ins' },
          // The sandbox loads modules afresh for every release it holds: a schema built at load costs each release.
          { group: ['zod', '**/release/spec.js', '**/release/validate.js', '**/release/model-checks.js'], allowTypeImports: true, message: 'the spec schema is checked in the worker (checkSpec, a local activity), not built in the sandbox; import its types only' },
        ],
      }],
    },
  },
);
