/**
 * REDIS_MIN_REPLICAS_ACK on one server with a replica: while the replica is away, no write can
 * be confirmed, so the worker reports not ready and deletes nothing (the adds are redone when
 * the messages come back); once the replica is back, everything drains. Without a replica to
 * confirm, a master's crash could lose writes whose SQS messages were already gone.
 */
import { Redis } from 'ioredis';
import { makeLogger } from '../../adapters/logger';
import { createSesTopology } from '../../adapters/emulator/topology';
import { loadConfig } from '../../worker/config';
import { startWorker, type RunningWorker } from '../../worker/main';
import { eventually } from '../support/await';
import { useServers, topologyEnv } from '../support/environment';
import { syntheticNotifications } from '../support/notifications';
import { sdkClientConfig, startRedis, type RedisServer } from '../support/servers';
import { publishAll, queueDepth } from '../support/sqs';

const servers = useServers();
let worker: RunningWorker | null = null;
let replica: RedisServer | null = null;
afterEach(async () => {
  await worker?.stop();
  worker = null;
  await replica?.stop();
  replica = null;
});

async function follow(server: RedisServer, master: RedisServer): Promise<void> {
  const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
  await client.replicaof(master.host, master.port);
  client.disconnect();
  await eventually(
    // Online: past its first full sync. WAIT counts only such replicas.
    async () => /slave0:.*state=online/.test(await servers.redis.info('replication')),
    'the replica in sync',
  );
}

it('with REDIS_MIN_REPLICAS_ACK=1, a missing replica holds the messages and /readyz says why', async () => {
  replica = await startRedis();
  await follow(replica, servers.redisServer);
  const t = await createSesTopology(servers.sqs, servers.sns, { name: 'replicas' });
  const config = loadConfig({
    ...topologyEnv(servers, t, '{replicas}'),
    HTTP_PORT: '0',
    SQS_WAIT_TIME_SECONDS: '1',
    SNS_VERIFY_SIGNATURES: 'false',
    JOB_BACKOFF_MS: '200',
    SQS_VISIBILITY_TIMEOUT: '3',
    SQS_HEARTBEAT_INTERVAL: '1',
    REDIS_MIN_REPLICAS_ACK: '1',
    REDIS_REPLICAS_ACK_TIMEOUT_MS: '300',
  });
  const { endpoint, credentials } = sdkClientConfig(servers.emulator);
  worker = await startWorker({
    config,
    log: makeLogger('silent'),
    sqsEndpoint: { endpoint, credentials },
  });
  const w = worker;
  const drained = async () => {
    const depth = await queueDepth(servers.sqs, t.queueUrl);
    return depth.visible + depth.inFlight === 0;
  };
  const heldForEnqueue = async () =>
    (await w.metrics.messagesRetried.get()).values.find((v) => v.labels.cause === 'enqueue')
      ?.value ?? 0;

  await publishAll(servers.sns, t.topicArn, syntheticNotifications(10, 9500));
  await eventually(drained, 'the first messages consumed');
  expect((await w.readiness()).ready).toBe(true);
  expect(await heldForEnqueue()).toBe(0);

  await replica.kill();
  await eventually(
    async () => (await servers.redis.info('replication')).includes('connected_slaves:0'),
    'the master to notice the replica gone',
  );
  await publishAll(servers.sns, t.topicArn, syntheticNotifications(10, 9600));
  await eventually(async () => (await heldForEnqueue()) > 0, 'batches held for want of a replica');
  const report = await w.readiness();
  expect(report.ready).toBe(false);
  expect(report.checks.redis).toMatch(/^replicas short: 0 of 1 replicas confirmed/);
  expect(await drained()).toBe(false);

  await replica.restart();
  await follow(replica, servers.redisServer);
  await eventually(async () => (await w.readiness()).ready, '/readyz ready again');
  await eventually(drained, 'the held messages consumed', 30_000);
});
