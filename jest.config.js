/** @type {import('jest').Config} */
const transform = { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] };

module.exports = {
  // dist/ holds a copy of package.json; haste would see two packages of one name.
  modulePathIgnorePatterns: ['<rootDir>/dist'],
  // Integration tests wait on real servers; jest reads this only at the top level.
  testTimeout: 60_000,
  // The pipeline suite stops a worker within the shutdown deadline, as `run` does on SIGTERM, and
  // reports an overrun (a BullMQ close after a Redis restart can wait on Redis forever: known,
  // open). `run` then exits the process; here the abandoned worker's connections would keep jest
  // from exiting after every test has passed, so jest exits as `run` would.
  forceExit: true,
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  projects: [
    {
      displayName: 'unit',
      testMatch: ['<rootDir>/test/unit/**/*.test.ts'],
      transform,
      testEnvironment: 'node',
    },
    {
      // Real Redis and a real SQS/SNS/S3 emulator (test/support/servers.ts), some running the
      // built worker (dist/): `npm test` builds first.
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      transform,
      testEnvironment: 'node',
    },
    {
      // The AWS CDK construct's synthesised template and the Kubernetes manifests: offline.
      displayName: 'deploy',
      testMatch: ['<rootDir>/test/deploy/**/*.test.ts'],
      // The Kubernetes schema models are ES modules only: resolved and compiled to CommonJS here.
      transform: { ...transform, '^.+\\.js$': transform['^.+\\.ts$'] },
      transformIgnorePatterns: [
        '/node_modules/(?!(kubernetes-models|@kubernetes-models|is-cidr|cidr-regex)/)',
      ],
      resolver: '<rootDir>/test/support/esm-only-resolver.js',
      testEnvironment: 'node',
    },
    {
      // Runs the built CLI (dist/): `npm test` builds first.
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.test.ts'],
      transform,
      testEnvironment: 'node',
    },
  ],
};
