/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: [
    '<rootDir>/service',
    '<rootDir>/charts',
    '<rootDir>/pipeline',
    '<rootDir>/bench',
    '<rootDir>/test',
  ].filter((d) => require('node:fs').existsSync(d.replace('<rootDir>', __dirname))),
  testMatch: ['**/test/**/*.test.ts'],
  transform: {
    '^.+\\.ts$': 'ts-jest',
  },
  testTimeout: 30000,
  // ONNX Runtime's telemetry off in the real environment of every test process.
  globalSetup: '<rootDir>/test/support/ort-telemetry-off.ts',
};
