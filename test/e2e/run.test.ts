/**
 * `ses-worker run` and `ses-worker demo` as a user starts them: the embedded default (the
 * README's first command), the HTTP endpoints, the configuration errors, and Redis missing.
 * Redis is the harness's own server, never the shared one.
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { deleteMatching } from '../../adapters/redis/connection';
import { REDIS_MODES, useRedisUnderTest } from '../support/redisModes';
import { startRedis, type RedisServer } from '../support/servers';
import { CLI, spawnWorker, stopWorker, type WorkerProcess } from '../support/workerProcess';

let redisServer: RedisServer;
const children: WorkerProcess[] = [];

beforeAll(async () => {
  redisServer = await startRedis();
});
afterEach(async () => {
  for (const child of children.splice(0)) await stopWorker(child);
});
afterAll(() => redisServer?.stop());

const onlyPathEnv = {
  PATH: process.env.PATH ?? '',
};

function runCli(args: string[], env: Record<string, string>) {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    env: { ...onlyPathEnv, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('ses-worker run', () => {
  it('without SQS_QUEUE_URL (and not embedded) stops with one line naming the variable', () => {
    const { code, stdout, stderr } = runCli(['run'], { REDIS_URL: redisServer.url });
    expect(code).toBe(78);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^ses-worker: configuration: SQS_QUEUE_URL: /),
    ]);
  });

  it('a bad value stops it with one line naming the variable', () => {
    const { code, stderr } = runCli(['run'], { SQS_BATCH_SIZE: '25' });
    expect(code).toBe(78);
    expect(stderr).toBe(
      'ses-worker: configuration: SQS_BATCH_SIZE: expected an integer from 1 to 10, got "25"\n',
    );
  });

  it('with both REDIS_URL and REDIS_CLUSTER_NODES stops with one line: which was meant is unknown', () => {
    const { code, stdout, stderr } = runCli(['run', '--embedded'], {
      REDIS_URL: redisServer.url,
      REDIS_CLUSTER_NODES: '127.0.0.1:7000,127.0.0.1:7001',
    });
    expect(code).toBe(78);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      'ses-worker: configuration: REDIS_CLUSTER_NODES: expected REDIS_URL unset when a cluster is configured, got both\n',
    );
  });

  it('--embedded with no cluster node answering says so in one line, without the password', async () => {
    const port = await closedPort();
    const { code, stderr } = runCli(['run', '--embedded'], {
      REDIS_CLUSTER_NODES: `redis://worker:hunter2@127.0.0.1:${port}`,
    });
    expect(code).toBe(69);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain(`Redis is not reachable at the cluster at redis://127.0.0.1:${port}`);
    expect(stderr).not.toContain('hunter2');
  });

  it('--embedded with Redis unreachable says so in one line, with how to start one', async () => {
    const url = `redis://127.0.0.1:${await closedPort()}`;
    const { code, stderr } = runCli(['run', '--embedded'], { REDIS_URL: url });
    expect(code).toBe(69);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain(`Redis is not reachable at ${url}`);
    expect(stderr).toContain('redis-server');
  });

  it('--embedded starts the emulator and topology, serves /healthz, /readyz, /metrics, and stops on SIGTERM', async () => {
    // What `npm start` runs.
    // A free emulator port: 4566, the default, may be another run's (test/e2e/start.test.ts).
    const embedded = spawnWorker(
      { REDIS_URL: redisServer.url, BULLMQ_PREFIX: '{e2e-run}', EMULATOR_PORT: '0' },
      ['run', '--embedded'],
    );
    children.push(embedded);
    const started = await embedded.waitForLog(
      (l) => l.msg.startsWith('embedded SQS/SNS/S3 emulator started'),
      'the emulator',
    );
    expect(started).toMatchObject({
      topicArn: expect.stringMatching(/^arn:aws:sns:/),
      queueUrl: expect.any(String),
      dlqUrl: expect.any(String),
    });
    // Whoever starts it (npm start, the tests) runs it on the same Node, and it says which.
    const running = await embedded.waitForLog((l) => l.msg === 'ses-worker running', 'start-up');
    expect(running).toMatchObject({ node: process.version });
    const port = await embedded.httpPort();
    const get = (path: string) => fetch(`http://127.0.0.1:${port}${path}`);

    expect(await (await get('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      ready: true,
      checks: { redis: 'ok', sqs: 'ok', shutdown: 'no' },
    });
    const metrics = await (await get('/metrics')).text();
    for (const name of [
      'ses_worker_sqs_messages_received_total',
      'ses_worker_decode_failures_total',
      'ses_worker_enqueue_duration_seconds',
      'ses_worker_sqs_batch_size',
      'ses_worker_jobs_total',
      'ses_events_total',
      'process_resident_memory_bytes',
    ]) {
      expect(metrics).toContain(`# TYPE ${name}`);
    }
    const [major, minor, patch] = process.versions.node.split('.');
    expect(metrics).toContain(
      `nodejs_version_info{version="${process.version}",major="${major}",minor="${minor}",patch="${patch}"} 1`,
    );

    embedded.child.kill('SIGTERM');
    expect(await embedded.exited).toBe(0);
  });
});

describe.each(REDIS_MODES)('ses-worker demo on %s Redis', (mode) => {
  const redis = useRedisUnderTest(mode);

  it('publishes every sample, waits for the jobs, prints the summary, exits 0 and leaves no keys', async () => {
    const { code, stdout, stderr } = runCli(['demo'], { ...redis.env });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(
      /Publishing 34 sample notifications through SNS, and 1 undecodable message/,
    );
    expect(stdout).toMatch(/^ {2}received +12 /m);
    // One suppression job per SQS batch: how many depends on how the samples were received.
    expect(stdout).toMatch(/^ {2}suppression +completed \d+, failed 0, waiting 0$/m);
    expect(stdout).toMatch(/^ {2}inbound +completed 12, failed 0, waiting 0$/m);
    // One metrics job per batch: how many depends on how SQS batched; every event counted once.
    const counted = [...stdout.matchAll(/^ {2}\w+ +(\d+) {2}configuration set:/gm)];
    expect(counted.reduce((sum, m) => sum + Number(m[1]), 0)).toBe(34);
    // 8 addresses suppressed globally, and one unsubscribed from a contact list and a topic.
    expect(stdout).toMatch(/^Suppression entries \(10\):$/m);
    expect(stdout).toMatch(/^ {2}recipient@example\.com {2}list:ContactListName {2}unsubscribe/m);
    expect(stdout).toMatch(
      /^Dead-letter queue \(1\):\n {2}decode\/invalid: at mail: expected object/m,
    );
    expect(stdout.trim().split('\n').at(-1)).toBe('Demo complete.');
    // Neither under the prefix's base (queues, buckets) nor under the prefix as written, on any
    // master.
    const client = redis.connect({ maxRetriesPerRequest: 1 });
    try {
      expect(await deleteMatching(client, '*ses-demo-*')).toBe(0);
    } finally {
      await client.quit();
    }
  });
});
