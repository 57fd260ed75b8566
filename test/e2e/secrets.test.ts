/**
 * No command prints a credential from a URL: each one, as a user runs it, with a REDIS_URL
 * (or a queue URL) holding a password, on an unreachable Redis, a wrong password (WRONGPASS)
 * and a value that does not parse. Whatever each prints, the password is not in it.
 */
import { spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { eventually } from '../support/await';
import { startRedis, type RedisServer } from '../support/servers';
import { CLI } from '../support/workerProcess';

const SECRET = 's3cr3t-Pa55';
const UNREACHABLE = `redis://admin:${SECRET}@127.0.0.1:1`;
const BAD_VALUE = `redis://admin:${SECRET}@127.0.0.1:notaport`;
let redis: RedisServer;
let wrongPassword: string;

beforeAll(async () => {
  redis = await startRedis();
  // The server has no user "admin": AUTH admin <password> answers WRONGPASS.
  wrongPassword = `redis://admin:${SECRET}@${redis.host}:${redis.port}`;
});
afterAll(() => redis?.stop());

interface Outcome {
  readonly code: number | null;
  readonly output: string;
}

/**
 * Runs the CLI; a long-running command (plain `run`) is stopped with SIGTERM once its output
 * shows `until`, or once `until` settles — it keeps retrying Redis and would not end by itself.
 */
function cli(
  args: string[],
  env: Record<string, string>,
  until?: RegExp | Promise<unknown>,
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        HTTP_PORT: '0',
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: 'test',
        AWS_SECRET_ACCESS_KEY: 'test',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      if (until instanceof RegExp && until.test(output)) child.kill('SIGTERM');
    };
    const stop = () => child.kill('SIGTERM');
    if (until instanceof Promise) until.then(stop, stop);
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

const QUEUE = 'http://127.0.0.1:1/000000000000/q';
const commands: readonly (readonly [string, readonly string[]])[] = [
  ['run --embedded', ['run', '--embedded']],
  ['suppression get', ['suppression', 'get', 'jane@example.com']],
  ['suppression add', ['suppression', 'add', 'jane@example.com']],
  ['replay-failed', ['replay-failed', '--queue', 'suppression']],
  ['demo', ['demo']],
];

describe.each(commands)('%s', (_label, args) => {
  it.each([
    ['an unreachable Redis', () => UNREACHABLE, 69],
    ['a wrong password (WRONGPASS)', () => wrongPassword, 69],
    ['a value that does not parse', () => BAD_VALUE, 78],
  ])('with %s, says so without the password', async (_case, url, exitCode) => {
    const { code, output } = await cli([...args], { REDIS_URL: url() });
    expect(output).toMatch(/REDIS_URL|Redis/);
    expect(output).toContain('[redacted]');
    expect(output).not.toContain(SECRET);
    expect(code).toBe(exitCode);
  });
});

// The other commands check the password before anything else; plain `run` keeps retrying.
describe('run (a production worker)', () => {
  it.each([['an unreachable Redis', () => UNREACHABLE, /redis connection error/]])(
    'with %s, logs it without the password',
    async (_case, url, until) => {
      const { output } = await cli(['run'], { REDIS_URL: url(), SQS_QUEUE_URL: QUEUE }, until);
      expect(output).toMatch(until);
      expect(output).not.toContain(SECRET);
    },
  );

  it('with a wrong password (WRONGPASS), logs it once however often it retries, without the password', async () => {
    const admin = new Redis(redis.url);
    try {
      await admin.call('ACL', 'LOG', 'RESET');
      // Redis counts the refused AUTHs: twenty is several retries of every connection.
      const retried = eventually(
        async () => (await authFailures(admin)) >= 20,
        'twenty refused AUTHs',
      );
      const [{ output }] = await Promise.all([
        cli(
          ['run'],
          // Its shutdown waits out the deadline while Redis refuses it: the shortest one.
          { REDIS_URL: wrongPassword, SQS_QUEUE_URL: QUEUE, SHUTDOWN_TIMEOUT_MS: '1000' },
          retried,
        ),
        retried,
      ]);
      const lines = output.split('\n').filter((line) => line.includes('WRONGPASS'));
      expect(lines.filter((line) => line.includes('redis connection error'))).toHaveLength(1);
      expect(lines.filter((line) => line.includes('bullmq worker error'))).toEqual([]);
      expect(output).not.toContain(SECRET);
    } finally {
      admin.disconnect();
    }
  });

  it('with a value that does not parse, names the variable without the password', async () => {
    const { code, output } = await cli(['run'], { REDIS_URL: BAD_VALUE, SQS_QUEUE_URL: QUEUE });
    expect(output).toContain(
      'REDIS_URL: expected a redis:// or rediss:// URL, got "redis://[redacted]@',
    );
    expect(output).not.toContain(SECRET);
    expect(code).toBe(78);
  });
});

describe.each([
  ['replay-dlq', ['replay-dlq', '--dry-run']],
  ['dlq stats', ['dlq', 'stats']],
])('%s', (_label, args) => {
  it('with a bad REDIS_URL, names it without the password', async () => {
    const { code, output } = await cli(args, { REDIS_URL: BAD_VALUE, SQS_DLQ_URL: QUEUE });
    expect(output).toContain('REDIS_URL: expected');
    expect(output).not.toContain(SECRET);
    expect(code).toBe(78);
  });

  it('with credentials in an unreachable queue URL, says so without them', async () => {
    const from = `http://key:${SECRET}@127.0.0.1:1/000000000000/dlq`;
    const { code, output } = await cli([...args, '--from', from], {
      SQS_QUEUE_URL: QUEUE,
      AWS_ENDPOINT_URL: 'http://127.0.0.1:1',
      AWS_MAX_ATTEMPTS: '1',
    });
    expect(output).toContain('[redacted]');
    expect(output).not.toContain(SECRET);
    expect(code).not.toBe(0);
  });
});

/** Refused AUTHs since the last `ACL LOG RESET` (the log sums repeats in each entry's count). */
async function authFailures(admin: Redis): Promise<number> {
  const entries = (await admin.call('ACL', 'LOG')) as unknown[][];
  let total = 0;
  for (const entry of entries) {
    const fields = new Map<unknown, unknown>();
    for (let i = 0; i + 1 < entry.length; i += 2) fields.set(entry[i], entry[i + 1]);
    if (fields.get('reason') === 'auth') total += Number(fields.get('count'));
  }
  return total;
}
