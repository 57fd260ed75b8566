/**
 * Redis at its maxmemory (noeviction) refuses every write while it still answers PING. The
 * worker must say it is not ready (`/readyz`), delete nothing, log no personal data while
 * adds and job completions fail, and recover by itself once memory is freed.
 *
 * Traffic: the synthetic notifications the other pipeline tests use (bounces, complaints,
 * deliveries, opens and received mail with content), on the test's own redis-server.
 */
import { Writable } from 'node:stream';
import { makeLogger } from '../../adapters/logger';
import { createSesTopology } from '../../adapters/emulator/topology';
import { loadConfig } from '../../worker/config';
import { startWorker, type RunningWorker } from '../../worker/main';
import { eventually } from '../support/await';
import { useServers, topologyEnv } from '../support/environment';
import { syntheticNotifications } from '../support/notifications';
import { sdkClientConfig } from '../support/servers';
import { publishAll, queueDepth } from '../support/sqs';

const servers = useServers();
let worker: RunningWorker | null = null;
// Stopped here, before useServers stops Redis (hooks run in order of declaration).
afterEach(async () => {
  await worker?.stop();
  worker = null;
});

const ADDRESS = /[^\s"<>(),;:@\\]+@[a-z0-9.-]+\.[a-z]+/gi;

it('under OOM: /readyz 503, nothing deleted, no address in any log line; recovers without restart', async () => {
  const t = await createSesTopology(servers.sqs, servers.sns, { name: 'redis-oom' });
  const lines: string[] = [];
  const log = makeLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(
          ...chunk
            .toString()
            .split('\n')
            .filter((l) => l !== ''),
        );
        done();
      },
    }),
  );
  const config = loadConfig({
    ...topologyEnv(servers, t, '{oom}'),
    HTTP_PORT: '0',
    SQS_WAIT_TIME_SECONDS: '1',
    SNS_VERIFY_SIGNATURES: 'false',
    JOB_BACKOFF_MS: '200',
    // Messages left during the outage come back after this.
    SQS_VISIBILITY_TIMEOUT: '4',
    SQS_HEARTBEAT_INTERVAL: '1',
  });
  const { endpoint, credentials } = sdkClientConfig(servers.emulator);
  worker = await startWorker({ config, log, sqsEndpoint: { endpoint, credentials } });
  const w = worker;
  const drained = async () => {
    const depth = await queueDepth(servers.sqs, t.queueUrl);
    return depth.visible + depth.inFlight === 0;
  };
  const left = async () =>
    (await w.metrics.messagesRetried.get()).values.find((v) => v.labels.cause === 'enqueue')
      ?.value ?? 0;

  const before = syntheticNotifications(20, 9000);
  await publishAll(servers.sns, t.topicArn, before);
  await eventually(drained, 'the first messages consumed');
  expect((await w.readiness()).ready).toBe(true);

  await servers.redis.config('SET', 'maxmemory-policy', 'noeviction');
  await servers.redis.config('SET', 'maxmemory', '1');
  const during = syntheticNotifications(20, 9100);
  await publishAll(servers.sns, t.topicArn, during);
  await eventually(async () => (await left()) > 0, 'adds refused and their messages left');
  const report = await w.readiness();
  expect(report.ready).toBe(false);
  expect(report.checks.redis).toMatch(/^refusing writes: OOM/);
  expect(lines.some((l) => l.includes('could not add jobs'))).toBe(true);
  expect(await drained()).toBe(false);

  await servers.redis.config('SET', 'maxmemory', '0');
  await eventually(async () => (await w.readiness()).ready, '/readyz ready again');
  await eventually(drained, 'the messages held during the outage consumed', 30_000);

  const addresses = new Set(
    [...before, ...during].flatMap((body) => [...body.matchAll(ADDRESS)].map((m) => m[0])),
  );
  expect(addresses.size).toBeGreaterThan(20);
  const leaks = lines.filter((line) => [...addresses].some((a) => line.includes(a)));
  expect(leaks).toEqual([]);
  expect(lines.filter((line) => line.length > 2000)).toEqual([]);
});
