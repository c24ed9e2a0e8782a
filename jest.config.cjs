/** Jest runs the TypeScript sources as CommonJS through ts-jest (type checking is `tsc --noEmit`). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.spec.ts'],
  transform: {
    // The k6 framing module is plain ES-module JavaScript; jest runs it as CommonJS.
    '^.+/load/lib/.+\\.js$': [
      'ts-jest',
      {
        tsconfig: { allowJs: true, module: 'commonjs', isolatedModules: true },
        transpilation: true,
        diagnostics: false,
      },
    ],
    '^.+\\.ts$': [
      'ts-jest',
      {
        tsconfig: {
          module: 'commonjs',
          moduleResolution: 'node10',
          isolatedModules: true,
          verbatimModuleSyntax: false,
        },
        transpilation: true,
        diagnostics: false,
      },
    ],
  },
  // Sources import './x.js' (NodeNext); under jest the .ts file is meant.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  setupFiles: ['reflect-metadata'],
  testTimeout: 30000,
  // Replicas and redis-servers are started per file; two at a time suits 2 cores.
  maxWorkers: 2,
};
