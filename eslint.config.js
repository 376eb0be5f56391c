// ESLint: the TypeScript rules that catch real defects here (a promise nobody
// awaits loses an error or a Kubernetes write), and a fence that keeps the
// workflow code free of I/O, which Temporal replays and must stay deterministic.
import { builtinModules } from 'node:module';
import stylistic from '@stylistic/eslint-plugin';
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
  // Readable in a review: code wraps at 140 (a message or URL may run longer), and a function
  // says one thing in about a screen.
  {
    files: ['src/**/*.ts'],
    plugins: { '@stylistic': stylistic },
    rules: {
      '@stylistic/max-len': ['error', {
        code: 140, ignoreUrls: true, ignoreStrings: true, ignoreTemplateLiterals: true, ignoreRegExpLiterals: true,
      }],
      'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true }],
    },
  },
  // Floors: release/ (words) <- rules/ (pure decisions) <- workflows/, activities/, client/ <- ui/.
  // The workflow bundle holds words and rules only; rules do no I/O and import no floor above them.
  {
    files: ['src/workflows/**/*.ts', 'src/rules/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [...builtinModules, '@temporalio/activity', '@temporalio/client', '@temporalio/worker']
          .map((name) => ({ name, message: 'workflow code and rules run without I/O (the workflow in a deterministic sandbox): do it in an activity' })),
        patterns: [
          { group: ['node:*'], message: 'workflow code and rules: no Node built-ins' },
          { group: ['@kubernetes/client-node'], allowTypeImports: true, message: 'workflow code and rules use the Kubernetes types only' },
          { group: ['**/activities/*', '**/client/*', '**/config.js', '**/worker.js', '**/log.js'], allowTypeImports: true, message: 'workflow code and rules import release/ and rules/ only (activity types are allowed)' },
          { group: ['**/workflows/*'], message: 'rules sit below the workflow: they never import it' },
          // The sandbox loads modules afresh for every release it holds: a schema built at load costs each release.
          { group: ['zod', '**/release/spec.js', '**/release/validate.js', '**/release/model-checks.js'], allowTypeImports: true, message: 'the spec schema is checked in the worker (checkSpec, a local activity), not built in the sandbox; import its types only' },
        ],
      }],
    },
  },
  // The release page knows Temporal only: never the cluster, never the worker's code.
  {
    files: ['src/ui/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: ['@kubernetes/client-node', '@temporalio/worker', '@temporalio/activity'].map((name) => ({ name, message: 'the page reads releases through Temporal only: it never needs the cluster\'s credentials' })),
        patterns: [{ group: ['**/activities/*', '**/workflows/*', '**/worker.js'], allowTypeImports: true, message: 'the page stands on the client: it never imports the worker\'s code' }],
      }],
    },
  },
  // The vocabulary is the ground floor: it imports no floor above it.
  {
    files: ['src/release/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['**/rules/*', '**/activities/*', '**/workflows/*', '**/client/*'], message: 'release/ is the vocabulary every floor uses: it imports none of them' }],
      }],
    },
  },
);
