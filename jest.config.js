// ts-jest with isolatedModules: type checks run separately (`tsc --noEmit` in `npm test`).
// The Kubernetes client is ESM-only, so it and its ESM dependencies are transformed too.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.[tj]sx?$': ['ts-jest', { tsconfig: { allowJs: true } }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(@kubernetes/client-node|openid-client|oauth4webapi|jose)/)'],
  testTimeout: 60000,
  maxWorkers: 2,
};
