// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

/** What the inner layers may not import. */
const FRAMEWORKS = [
  '@nestjs/*',
  'socket.io',
  'socket.io/*',
  '@socket.io/*',
  'engine.io',
  'engine.io/*',
  'ws',
  'ioredis',
  'redis',
  'express',
];
/** Server folders the client library may not reach into. */
const SERVER_FOLDERS = [
  'admin',
  'api',
  'auth',
  'config',
  'demo',
  'domain',
  'gateway',
  'history',
  'limits',
  'ops',
  'redis',
  'sse',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'artifacts/**', 'load/lib/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // Layers: the framework-free core (events, history ports, common helpers)
    // and the transport-neutral delivery core know no framework, transport or
    // Redis client; adapters (redis/, memory/), transports and Nest modules do.
    files: [
      'src/common/**/*.ts',
      'src/events/*.ts',
      'src/history/*.ts',
      'src/gateway/stream-feed.ts',
      'src/gateway/slow-queue.ts',
      'src/gateway/batch-pacer.ts',
      'src/gateway/drain-plan.ts',
      'src/gateway/viewer-connection.ts',
      'src/gateway/connection-viewer.ts',
    ],
    ignores: ['src/**/*.module.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: FRAMEWORKS,
              allowTypeImports: true,
              message: 'the core and delivery layers know no framework, transport or Redis client',
            },
          ],
        },
      ],
    },
  },
  {
    // The client library ships to browsers and other apps: no server code, no server library.
    files: ['src/client/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                ...FRAMEWORKS,
                ...SERVER_FOLDERS.map((folder) => `../${folder}/*`),
                ...SERVER_FOLDERS.map((folder) => `../../${folder}/*`),
              ],
              message: 'the client library imports no server code (only socket.io-client)',
            },
          ],
        },
      ],
    },
  },
  {
    // Tests read JSON bodies loosely; the contract's types are enforced in src/.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
  {
    files: ['**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      parserOptions: { projectService: false, project: null },
      globals: { ...globals.node },
    },
  },
  {
    // k6 scripts: plain JavaScript run by k6, with its globals.
    files: ['load/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      parserOptions: { projectService: false, project: null },
      globals: { __ENV: 'readonly', __VU: 'readonly', __ITER: 'readonly' },
    },
  },
  prettier,
);
