// Lint rules that guard Temporal's two failure modes (a promise nobody awaits:
// a step silently skipped; a Node built-in in workflow code: breaks determinism)
// and the layering: imports only run downward,
//   cli, scripts -> workers -> workflows (+ toolkit) -> contracts -> common, config
//                   workers -> activities -> lib -> contracts, common, config
// Workflows and contracts may import activity and library TYPES (erased at build):
// the workflow bundle never loads their code.
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = builtinModules.flatMap((name) => [name, `node:${name}`]);
const deterministic = nodeBuiltins.map((name) => ({ name, message: 'Workflow code must be deterministic: no Node built-ins.' }));

// A relative import into one of these top-level folders.
const into = (...folders) => `^\\.{1,2}/(?:\\.\\./)*(?:${folders.join('|')})(?:/|$)`;
const upward = (folders, message) => ({ regex: into(...folders), message });
const typesOnly = (folders, message) => ({ regex: into(...folders), allowTypeImports: true, message });

const restricted = (paths, patterns) => ({ 'no-restricted-imports': ['error', { paths, patterns }] });

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'backups/**', '.rabbitvault/**', 'eslint.config.mjs', 'scripts/setup/*.mjs'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: restricted(deterministic, [
      typesOnly(['activities', 'lib'], 'Workflows import activity and library types only: their code runs in activities.'),
      upward(['cli', 'workers', 'scripts', 'test', 'bench'], 'Workflow code does not import the CLI, the worker process, scripts or tests.'),
    ]),
  },
  {
    // A workflow file imports the toolkit and its steps, never another workflow's file.
    files: ['workflows/*.ts'],
    ignores: ['workflows/index.ts'],
    rules: restricted(deterministic, [
      typesOnly(['activities', 'lib'], 'Workflows import activity and library types only: their code runs in activities.'),
      upward(['cli', 'workers', 'scripts', 'test', 'bench'], 'Workflow code does not import the CLI, the worker process, scripts or tests.'),
      { regex: '^\\./(?!toolkit/|steps/)[^/]+$', allowTypeImports: true, message: "A workflow does not import another workflow's file: shared code goes to workflows/toolkit/." },
    ]),
  },
  {
    files: ['contracts/**/*.ts'],
    rules: restricted(deterministic, [
      typesOnly(['activities', 'lib'], 'Contracts are bundled into workflow code: activity and library types only.'),
      upward(['workflows', 'cli', 'workers', 'scripts', 'test', 'bench'], 'Contracts sit below workflows, the CLI and the worker.'),
    ]),
  },
  {
    files: ['common/**/*.ts'],
    rules: restricted(deterministic, [
      upward(['contracts', 'activities', 'lib', 'workflows', 'cli', 'workers', 'scripts', 'test', 'bench'], 'common/ is the bottom layer: it imports only config/ and packages.'),
    ]),
  },
  {
    files: ['config/**/*.ts'],
    rules: restricted([], [upward(['contracts', 'activities', 'lib', 'workflows', 'cli', 'workers', 'scripts', 'test', 'bench'], 'config/ imports only common/ and packages.')]),
  },
  {
    files: ['lib/**/*.ts'],
    rules: restricted(
      [{ name: '@temporalio/activity', message: 'lib/ has no activity context: heartbeats and cancellation belong in activities/.' }],
      [upward(['activities', 'workflows', 'cli', 'workers', 'scripts', 'test', 'bench'], 'lib/ sits below activities, workflows, the CLI and the worker.')],
    ),
  },
  {
    files: ['activities/**/*.ts'],
    rules: restricted([], [upward(['workflows', 'cli', 'workers', 'scripts', 'test', 'bench'], 'Activities sit below workflows, the CLI and the worker.')]),
  },
  {
    files: ['workers/**/*.ts'],
    rules: restricted([], [upward(['cli', 'scripts', 'test', 'bench'], 'The worker does not import the CLI, the dev stack or tests.')]),
  },
  {
    files: ['cli/**/*.ts'],
    rules: restricted([], [upward(['scripts', 'test', 'bench'], 'The CLI ships in the image without scripts/ (the dev stack) and tests.')]),
  },
);
