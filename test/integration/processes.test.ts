/**
 * The built worker as real processes: SIGTERM in the middle of a batch, SIGKILL in the middle
 * of a batch, and two replicas on one queue. A batch is held "in the middle" deterministically
 * with Redis's `CLIENT PAUSE … WRITE`: the worker receives from SQS, then its job writes wait.
 */
import { createSesTopology, type SesTopology } from '../../adapters/emulator/topology';
import type { QueueName } from '../../domain/jobs';
import { eventually } from '../support/await';
import { useServers } from '../support/environment';
import { expectedJobIds, syntheticNotifications } from '../support/notifications';
import { queueWork, sameWork } from '../support/queueWork';
import { fixtureText } from '../support/fixtures';
import { publishAll, queueDepth, sendAll } from '../support/sqs';
import { scrapeCounter, spawnWorker, type WorkerProcess } from '../support/workerProcess';

const servers = useServers();
let run = 0;
const children: WorkerProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.child.exitCode === null) child.child.kill('SIGKILL');
    await child.exited;
  }
});

interface Setup {
  readonly topology: SesTopology;
  readonly prefix: string;
  start(env?: Record<string, string>): WorkerProcess;
}

async function setup(visibilityTimeoutSeconds = 30): Promise<Setup> {
  run++;
  const topology = await createSesTopology(servers.sqs, servers.sns, {
    name: `processes-${run}`,
    visibilityTimeoutSeconds,
  });
  const prefix = `{proc-${run}}`;
  return {
    topology,
    prefix,
    start: (env = {}) => {
      const child = spawnWorker({
        SQS_QUEUE_URL: topology.queueUrl,
        SQS_DLQ_URL: topology.dlqUrl,
        AWS_REGION: servers.emulator.region,
        AWS_ENDPOINT_URL: servers.emulator.endpoint,
        REDIS_URL: servers.redisServer.url,
        BULLMQ_PREFIX: prefix,
        SQS_VISIBILITY_TIMEOUT: String(visibilityTimeoutSeconds),
        ...env,
      });
      children.push(child);
      return child;
    },
  };
}

async function completedExactly(
  prefix: string,
  expected: Map<QueueName, Set<string>>,
): Promise<boolean> {
  for (const [name, ids] of expected) {
    const work = await queueWork(servers.redis, prefix, name);
    if (work.completed.size !== ids.size) return false;
    sameWork(name, work.completed, ids);
    expect(work.pending).toBe(0);
  }
  return true;
}

const drained = async (queueUrl: string) => {
  const depth = await queueDepth(servers.sqs, queueUrl);
  return depth.visible === 0 && depth.inFlight === 0;
};

/**
 * Starts a worker while every Redis write is held for 2.5 s, and returns once it has received a
 * batch: that batch is then in hand, waiting on its job adds. (Pausing before the start, not
 * during a run: a warm worker may have drained the queue before a pause could catch a batch.)
 */
async function startHoldingABatch(start: () => WorkerProcess): Promise<WorkerProcess> {
  await servers.redis.call('CLIENT', 'PAUSE', '2500', 'WRITE');
  const worker = start();
  await worker.waitForLog(
    (l) => l.msg === 'batch received',
    'a batch received while writes are paused',
  );
  return worker;
}

it('SIGTERM during a batch: the batch completes and the process exits 0 within the deadline', async () => {
  // Stopping aborts the long polls in progress; a message the emulator had already handed to an
  // aborted poll stays invisible for the visibility timeout, so keep that short.
  const s = await setup(4);
  const bodies = syntheticNotifications(200, 10_000);
  await publishAll(servers.sns, s.topology.topicArn, bodies);
  const worker = await startHoldingABatch(() => s.start({ SHUTDOWN_TIMEOUT_MS: '10000' }));

  const signalledAt = Date.now();
  worker.child.kill('SIGTERM');

  expect(await worker.exited).toBe(0);
  expect(Date.now() - signalledAt).toBeLessThan(10_000);
  const stopping = worker.logs.find((l) => l.msg.startsWith('stopping'));
  expect(stopping?.inFlightBatches).toBeGreaterThanOrEqual(1);
  expect(worker.count('batch done')).toBe(worker.count('batch received'));
  expect(worker.logs.at(-1)?.msg).toBe('stopped');

  // What it left is on the queue, not lost: a second worker finishes the job, each job once.
  s.start();
  await eventually(
    () => drained(s.topology.queueUrl),
    'the rest drained by a second worker',
    30_000,
  );
  await eventually(
    () => completedExactly(s.prefix, expectedJobIds(bodies)),
    'every job exactly once',
  );
});

it('SIGKILL during a batch: its messages come back after the visibility timeout and are processed once', async () => {
  const s = await setup(3);
  const bodies = syntheticNotifications(100, 20_000);
  await publishAll(servers.sns, s.topology.topicArn, bodies);
  const first = await startHoldingABatch(() =>
    s.start({ SQS_HEARTBEAT_INTERVAL: '1', JOB_LOCK_MS: '2000' }),
  );

  first.child.kill('SIGKILL');
  expect(await first.exited).toBe('SIGKILL');
  const depth = await queueDepth(servers.sqs, s.topology.queueUrl);
  expect(depth.visible + depth.inFlight).toBeGreaterThan(0);

  // A short job lock: the jobs the killed process held active go back to the queue quickly.
  const second = s.start({ JOB_LOCK_MS: '2000' });
  await eventually(() => drained(s.topology.queueUrl), 'the killed batch back and drained', 30_000);
  await eventually(
    () => completedExactly(s.prefix, expectedJobIds(bodies)),
    'every job exactly once',
    30_000,
  );
  expect(second.count('batch done')).toBeGreaterThan(0);
});

it('two worker processes on one queue: every job exactly once, every message deleted once', async () => {
  const s = await setup();
  const bodies = syntheticNotifications(300, 30_000);
  const replicas = [s.start(), s.start()];
  const ports = await Promise.all(replicas.map((r) => r.httpPort()));
  await publishAll(servers.sns, s.topology.topicArn, bodies);

  await eventually(() => drained(s.topology.queueUrl), 'the queue drained by both replicas');
  await eventually(
    () => completedExactly(s.prefix, expectedJobIds(bodies)),
    'every job exactly once',
  );
  const perReplica = (name: string) => Promise.all(ports.map((port) => scrapeCounter(port, name)));
  const deleted = await perReplica('ses_worker_sqs_messages_deleted_total');
  expect(deleted.reduce((a, b) => a + b, 0)).toBe(bodies.length);
  await eventually(
    async () => (await perReplica('ses_events_total')).reduce((a, b) => a + b, 0) === bodies.length,
    'ses_events_total summed across replicas to equal the events',
  );
  const received = await perReplica('ses_worker_sqs_messages_received_total');
  expect(received.every((n) => n > 0)).toBe(true);
});

it('an SNS subscription confirmation is logged with its SubscribeURL (not visited by default)', async () => {
  const s = await setup();
  const confirmation = fixtureText('sns/subscription-confirmation.json');
  await sendAll(servers.sqs, s.topology.queueUrl, [confirmation]);
  const worker = s.start();
  const line = await worker.waitForLog(
    (l) => l.msg.startsWith('SNS subscription confirmation received'),
    'the confirmation logged',
  );
  const expected = JSON.parse(confirmation) as { SubscribeURL: string; TopicArn: string };
  expect(line).toMatchObject({
    level: 'warn',
    subscribeUrl: expected.SubscribeURL,
    topicArn: expected.TopicArn,
  });
  expect(line.msg).toContain('SNS_CONFIRM_SUBSCRIPTIONS=true');
  await eventually(() => drained(s.topology.queueUrl), 'the confirmation deleted');
  expect(worker.logs.some((l) => l.msg === 'SNS subscription confirmed')).toBe(false);
});
