// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

/** I/O belongs in adapters/: domain/ stays pure so it is testable without servers. */
const ioModules = [
  '@aws-sdk/*',
  'bullmq',
  'ioredis',
  'nodemailer',
  'mailsplit',
  'pino',
  'prom-client',
  'sqs-consumer',
  'commander',
  'fs',
  'node:*',
  'http',
  'https',
  'net',
  'child_process',
];

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', 'cdk.out/', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always'],
    },
  },
  {
    files: ['domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ioModules, message: 'domain/ is pure: put I/O in adapters/.' },
            {
              group: ['**/adapters/**', '**/worker/**'],
              message: 'domain/ depends on nothing: worker → adapters → domain.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['adapters/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/worker/**'], message: 'adapters/ never import worker/.' }] },
      ],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  prettier,
);
