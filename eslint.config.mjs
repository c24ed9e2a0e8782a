// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';
import globals from 'globals';
import * as espree from 'espree';

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
/** The layers, innermost first: each may import only the layers before it. */
const LAYERS = ['core', 'delivery', 'adapters', 'transports', 'app'];
/** Import patterns that reach a layer's folder from anywhere under src/. */
const folder = (layer) => [`**/${layer}/**`, `**/${layer}/*`];
/**
 * The rule for one layer: no import of the layers outside it, nor (for the
 * inner two) of any framework, transport or Redis client at run time.
 */
function layerRule(layer, { frameworks }) {
  const outer = LAYERS.slice(LAYERS.indexOf(layer) + 1);
  const patterns = [
    {
      group: [...outer, 'client'].flatMap(folder),
      message: `${layer}/ may import only ${LAYERS.slice(0, LAYERS.indexOf(layer) + 1).join(', ')} (and protocol, config): see docs/architecture.md`,
    },
  ];
  if (!frameworks) {
    patterns.push({
      group: FRAMEWORKS,
      allowTypeImports: true,
      message: 'the core and delivery layers know no framework, transport or Redis client',
    });
  }
  return {
    '@typescript-eslint/no-restricted-imports': ['error', { patterns }],
  };
}

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
  // Layers (docs/architecture.md): core <- delivery <- adapters <- transports <- app.
  // protocol/ (wire types shared with the client) and config/ sit with the core.
  {
    files: ['src/core/**/*.ts', 'src/protocol/**/*.ts', 'src/config/**/*.ts'],
    rules: layerRule('core', { frameworks: false }),
  },
  { files: ['src/delivery/**/*.ts'], rules: layerRule('delivery', { frameworks: false }) },
  { files: ['src/adapters/**/*.ts'], rules: layerRule('adapters', { frameworks: true }) },
  { files: ['src/transports/**/*.ts'], rules: layerRule('transports', { frameworks: true }) },
  // The demo plays outside agents: it alone in app/ uses the client library (its agent SDK).
  {
    files: ['src/app/**/*.ts'],
    ignores: ['src/app/demo/**'],
    rules: layerRule('app', { frameworks: true }),
  },
  {
    // The client library ships to browsers and other apps: only the wire types and the
    // framework-free event model, no server layer, no server library.
    files: ['src/client/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                ...FRAMEWORKS,
                ...['delivery', 'adapters', 'transports', 'app', 'config'].flatMap((layer) => [
                  `../${layer}/**`,
                  `../../${layer}/**`,
                ]),
              ],
              message:
                'the client library imports no server code (only socket.io-client, protocol/ and core/)',
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
    // k6 scripts: plain JavaScript run by k6, with its globals. ES2017 at most:
    // k6 v0.48's transpiler stops at `??`, `?.` and object spread (v1.x takes them).
    files: ['load/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      // ESLint's own parser: it refuses syntax newer than ecmaVersion.
      parser: espree,
      ecmaVersion: 2017,
      sourceType: 'module',
      parserOptions: { projectService: false, project: null },
      globals: { __ENV: 'readonly', __VU: 'readonly', __ITER: 'readonly', console: 'readonly' },
    },
  },
  prettier,
);
