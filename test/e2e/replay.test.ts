/**
 * The replay commands' failures before any work starts, as a user meets them: usage errors
 * (64), missing configuration (78), an unreachable Redis (69) — each one line or commander's
 * usual usage message, never a stack trace. Needs the build (dist/); no servers.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { CLI } from '../support/workerProcess';

const STACK_FRAME = /^\s+at .+\(.+:\d+:\d+\)$/m;
const DLQ = 'http://sqs.us-east-1.localhost:1/000000000000/ses-events-dlq';
const QUEUE = 'http://sqs.us-east-1.localhost:1/000000000000/ses-events-queue';

function run(args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    env: {
      PATH: process.env.PATH ?? '',
      ...env,
    },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (npm test does)`);
});

it('lists the replay commands in the help', () => {
  const { code, stdout } = run(['--help']);
  expect(code).toBe(0);
  expect(stdout).toMatch(/^\s+replay-dlq \[options\]/m);
  expect(stdout).toMatch(/^\s+replay-failed \[options\]/m);
  expect(stdout).toMatch(/^\s+dlq\b/m);
  expect(run(['dlq', '--help']).stdout).toMatch(/^\s+stats \[options\]/m);
});

describe('usage errors: exit 64 before anything is read or moved', () => {
  const env = { SQS_DLQ_URL: DLQ, SQS_QUEUE_URL: QUEUE, AWS_REGION: 'us-east-1' };
  it.each([
    [
      ['replay-dlq', '--kind', 'bounces'],
      /^error: --kind: expected a comma-separated list of send, .*, got "bounces"$/m,
    ],
    [
      ['replay-dlq', '--error', 'smtp'],
      /^error: --error: expected a comma-separated list of decode, signature, redrive, got "smtp"$/m,
    ],
    [
      ['replay-dlq', '--older-than', 'yesterday'],
      /^error: --older-than: expected a duration such as 90s, 15m, 2h, 7d or 1h30m, got "yesterday"$/m,
    ],
    [
      ['replay-dlq', '--older-than', '2h', '--newer-than', '1h'],
      /^error: --older-than 2h and --newer-than 1h: no message can be both/m,
    ],
    [
      ['replay-dlq', '--max', '0'],
      /^error: option '--max <n>' argument '0' is invalid\. expected an integer ≥ 1\.$/m,
    ],
    [
      ['replay-dlq', '--rate', 'fast'],
      /^error: option '--rate <n>' argument 'fast' is invalid\. expected a number above 0\.$/m,
    ],
    [
      ['replay-dlq', '--from', 'ses-events-dlq'],
      /^error: option '--from <url>' argument 'ses-events-dlq' is invalid\. expected an http\(s\) queue URL\.$/m,
    ],
    [
      ['replay-dlq', '--visibility-timeout', '13h'],
      /^error: option '--visibility-timeout <duration>' argument '13h' is invalid\. expected from 1s to 12h\.$/m,
    ],
    [
      ['replay-dlq', '--native', '--kind', 'bounce'],
      /^ses-worker replay-dlq: --native moves every message: it cannot be combined with --kind/m,
    ],
    [['replay-dlq', '--to', DLQ], /^ses-worker replay-dlq: --from and --to are the same queue/m],
    [['replay-failed'], /^error: required option '--queue <queue>' not specified$/m],
    [
      ['replay-failed', '--queue', 'smtp'],
      /^error: option '--queue <queue>' argument 'smtp' is invalid\. Allowed choices are suppression, inbound, metrics, ses-sync\.$/m,
    ],
  ])('%j', (args, message) => {
    const { code, stdout, stderr } = run(args, env);
    expect({ code, stdout }).toEqual({ code: 64, stdout: '' });
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(STACK_FRAME);
  });
});

describe('configuration', () => {
  it.each([
    [
      ['replay-dlq'],
      {},
      'ses-worker: configuration: SQS_DLQ_URL: expected the dead-letter queue to replay (or --from URL)\n',
    ],
    [
      ['replay-dlq', '--from', DLQ],
      {},
      'ses-worker: configuration: SQS_QUEUE_URL: expected the queue to move dead letters to (or --to URL)\n',
    ],
    [
      ['dlq', 'stats'],
      {},
      'ses-worker: configuration: SQS_DLQ_URL: expected the dead-letter queue to count (or --from URL)\n',
    ],
    [
      ['replay-failed', '--queue', 'inbound'],
      { REDIS_URL: 'http://localhost' },
      'ses-worker: configuration: REDIS_URL: expected a redis:// or rediss:// URL, got "http://localhost"\n',
    ],
  ])('%j with %j: one line, exit 78', (args, env, line) => {
    const { code, stdout, stderr } = run(args, env);
    expect({ code, stdout, stderr }).toEqual({ code: 78, stdout: '', stderr: line });
  });
});

describe('replay-failed without Redis', () => {
  let closed: Server;
  let port: number;
  beforeAll(async () => {
    // A port that was free a moment ago and now refuses connections.
    closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    port = (closed.address() as { port: number }).port;
    await new Promise((done) => closed.close(done));
  });

  it('says Redis is unreachable and how to start one, in one line, exit 69', () => {
    const { code, stdout, stderr } = run(['replay-failed', '--queue', 'inbound'], {
      REDIS_URL: `redis://127.0.0.1:${port}`,
    });
    expect({ code, stdout }).toEqual({ code: 69, stdout: '' });
    expect(stderr).toMatch(
      new RegExp(
        `^ses-worker replay-failed: Redis is not reachable at redis://127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\): start one with .+\\n$`,
      ),
    );
  });
});
