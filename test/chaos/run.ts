/**
 * npm run test:chaos — 10,000 SES notifications through SNS → SQS → two worker processes while
 * the suite SIGKILLs workers in the middle of a batch, SIGKILLs Redis (AOF, appendfsync always)
 * and restarts the emulator; then a ledger of what was published is checked against what came
 * of it: the suppression list, the mail the SMTP server accepted, the DLQ.
 *
 * Everything runs on servers of its own: redis-server (AOF on), fauxqs as a child process, an
 * smtp-server, and the built CLI (`dist/worker/cli.js run`) twice. The last line printed is one
 * JSON object; the exit code is 1 when anything was lost or done twice, or a check failed.
 *
 * CHAOS_MESSAGES (10000), CHAOS_SEED (random; printed, repeats the same notifications and
 * order), CHAOS_RATE (publishes per second, 400), CHAOS_SMTP_HOLD (true; false lets worker
 * kills fall between an SMTP 250 and the job's completion — see the README).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { PublishBatchCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { createSesTopology, type SesTopology } from '../../adapters/emulator/topology';
import type { EmailAddress } from '../../domain/address';
import { forwardJobId } from '../../domain/forwarding/policy';
import { QUEUE_NAMES, type QueueName } from '../../domain/jobs';
import { SES_SYNC_QUEUE } from '../../worker/sesSync';
import { eventually } from '../support/await';
import { startEmulatorProcess, startRedis } from '../support/servers';
import { startSesV2Fake, type SesV2Fake } from '../support/sesv2Fake';
import { startSmtpServer, type ReceivedMail } from '../support/smtp';
import { clientsFor, queueDepth } from '../support/sqs';
import type { WorkerProcess } from '../support/workerProcess';
import { buildLedger, FORWARD_FROM, FORWARD_RULES, type Ledger } from './ledger';
import {
  compare,
  forwardedKeyOf,
  makeSmtpHold,
  readSuppression,
  takeDeadLetters,
  type SmtpHold,
} from './outcomes';
import { startWorkerPool, type WorkerPool } from './workers';

const MESSAGES = positiveInteger('CHAOS_MESSAGES', 10_000);
const SEED = positiveInteger('CHAOS_SEED', Math.floor(Math.random() * 2 ** 31));
const RATE = positiveInteger('CHAOS_RATE', 400);
const SMTP_HOLD = flag('CHAOS_SMTP_HOLD', true);
const DUPLICATE_SHARE = 0.1;
const WORKERS = 2;
const PREFIX = '{chaos}';
/** Short, so that what a killed worker held comes back within seconds. */
const VISIBILITY_TIMEOUT_SECONDS = 5;
const JOB_LOCK_MS = 4000;
const PUBLISH_LANES = 2;
/** How far (a share of all) publishing may run ahead of a fault that has not struck yet. */
const PUBLISH_AHEAD = 0.03;
const PROGRESS_EVERY_MS = 5000;
const SETTLE_MS = 20_000;
const QUIET_TIMEOUT_MS = 150_000;
const REPO_ROOT = resolve(__dirname, '..', '..', '..');

type Fault = 'killWorker0' | 'killWorker1' | 'restartRedis';
/** When each fault strikes, as a share of the notifications published; the emulator restarts at ½. */
const FIRST_HALF: readonly [number, Fault][] = [
  [0.06, 'killWorker0'],
  [0.16, 'restartRedis'],
  [0.26, 'killWorker1'],
  [0.38, 'killWorker0'],
];
const SECOND_HALF: readonly [number, Fault][] = [
  [0.56, 'killWorker1'],
  [0.66, 'restartRedis'],
  [0.78, 'killWorker0'],
  [0.9, 'killWorker1'],
];

function flag(name: string, fallback: boolean): boolean {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  if (text !== 'true' && text !== 'false')
    throw new Error(`${name} must be true or false, not ${JSON.stringify(text)}`);
  return text === 'true';
}

function positiveInteger(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name} must be a positive integer, not ${JSON.stringify(text)}`);
  }
  return value;
}

const startedAt = performance.now();
const elapsed = () => ((performance.now() - startedAt) / 1000).toFixed(1).padStart(6);
const say = (line: string) => console.log(`chaos ${elapsed()}s  ${line}`);

/**
 * Publishes through the topic at no more than RATE per second, counting as it goes, and never
 * past `limit` (the fault runner keeps it a little ahead of the next fault, so that a fault
 * always strikes while messages flow).
 */
class Publisher {
  published = 0;
  limit = Infinity;
  private readonly since = performance.now();
  private paced = 0;

  constructor(
    private readonly sns: SNSClient,
    private topicArn: string,
  ) {}

  retarget(topicArn: string): void {
    this.topicArn = topicArn;
  }

  async publish(bodies: readonly string[]): Promise<void> {
    let next = 0;
    const lane = async () => {
      while (next < bodies.length) {
        while (this.paced >= this.limit) await delay(20);
        const batch = bodies.slice(next, (next += 10));
        this.paced += batch.length;
        const due = this.since + (this.paced / RATE) * 1000;
        if (due > performance.now()) await delay(due - performance.now());
        const result = await this.sns.send(
          new PublishBatchCommand({
            TopicArn: this.topicArn,
            PublishBatchRequestEntries: batch.map((Message, i) => ({ Id: String(i), Message })),
          }),
        );
        if ((result.Failed ?? []).length > 0)
          throw new Error(`publish failed: ${JSON.stringify(result.Failed)}`);
        this.published += batch.length;
      }
    };
    await Promise.all(Array.from({ length: PUBLISH_LANES }, lane));
  }
}

interface Servers {
  readonly redisServer: Awaited<ReturnType<typeof startRedis>>;
  readonly emulator: Awaited<ReturnType<typeof startEmulatorProcess>>;
  readonly smtp: Awaited<ReturnType<typeof startSmtpServer>>;
  readonly sqs: SQSClient;
  readonly sns: SNSClient;
  /** The suite's own connection: it waits out the Redis restarts. */
  readonly redis: Redis;
  readonly queues: ReadonlyMap<QueueName, Queue>;
  /** SES's account-level suppression list, which the workers push to (SES_SUPPRESSION_SYNC). */
  readonly ses: SesV2Fake;
  readonly sesSync: Queue;
}

interface FaultCounts {
  workerKills: number;
  killsMidBatch: number;
  /** Kills made before every accepted forward had completed its job (SETTLE_MS ran out). */
  killsUnsettled: number;
  redisRestarts: number;
  maxRedisDowntimeMs: number;
  emulatorRestarts: number;
  emulatorOutageMs: number;
  /** From the restart to the moment both workers had received a batch again. */
  emulatorResumedMs: number;
}

async function jobsInProgress(queues: ReadonlyMap<QueueName, Queue>) {
  let pending = 0;
  let active = 0;
  let failed = 0;
  for (const queue of queues.values()) {
    const counts = await queue.getJobCounts(
      'waiting',
      'active',
      'delayed',
      'prioritized',
      'waiting-children',
      'failed',
    );
    pending +=
      counts.waiting! + counts.delayed! + counts.prioritized! + counts['waiting-children']!;
    active += counts.active!;
    failed += counts.failed!;
  }
  return { pending, active, failed };
}

/** Polls `probe` until it holds on two probes in a row, half a second apart. */
async function steadily(what: string, timeoutMs: number, probe: () => Promise<boolean>) {
  const deadline = Date.now() + timeoutMs;
  let held = 0;
  while (held < 2) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    held = (await probe()) ? held + 1 : 0;
    if (held < 2) await delay(500);
  }
}

async function main(): Promise<number> {
  const ledger = buildLedger(MESSAGES, DUPLICATE_SHARE, SEED);
  say(
    `seed ${SEED}: ${ledger.publications.length} notifications (${ledger.unique} distinct + ` +
      `${ledger.duplicates} published twice): ${[...ledger.kinds].map(([k, n]) => `${k} ${n}`).join(', ')}`,
  );
  const [redisServer, emulator, smtp, ses] = await Promise.all([
    startRedis({ appendOnly: true }),
    startEmulatorProcess(),
    startSmtpServer(),
    startSesV2Fake(),
  ]);
  const { sqs, sns } = clientsFor(emulator);
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
  redis.on('error', () => undefined); // it reconnects by itself after the Redis restarts
  const queues = new Map(
    QUEUE_NAMES.map((name) => [name, new Queue(name, { connection: redis, prefix: PREFIX })]),
  );
  const sesSync = new Queue(SES_SYNC_QUEUE, { connection: redis, prefix: PREFIX });
  const servers: Servers = { redisServer, emulator, smtp, sqs, sns, redis, queues, ses, sesSync };
  let pool: WorkerPool | undefined;
  try {
    const topologyOptions = {
      name: 'chaos',
      visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
      // Generous, as the README advises: no outage or kill may redrive a good message.
      maxReceiveCount: 10,
    };
    const topology = await createSesTopology(sqs, sns, topologyOptions);
    pool = await startWorkerPool(WORKERS, {
      SQS_QUEUE_URL: topology.queueUrl,
      SQS_DLQ_URL: topology.dlqUrl,
      AWS_REGION: emulator.region,
      AWS_ENDPOINT_URL: emulator.endpoint,
      REDIS_URL: redisServer.url,
      BULLMQ_PREFIX: PREFIX,
      SQS_VISIBILITY_TIMEOUT: String(VISIBILITY_TIMEOUT_SECONDS),
      SQS_HEARTBEAT_INTERVAL: '2',
      JOB_LOCK_MS: String(JOB_LOCK_MS),
      JOB_ATTEMPTS: '12',
      JOB_BACKOFF_MS: '250',
      SHUTDOWN_TIMEOUT_MS: '15000',
      // The emulator signs nothing (fauxqs's envelopes carry "Signature": "EXAMPLE").
      SNS_VERIFY_SIGNATURES: 'false',
      FORWARD_RULES: JSON.stringify(FORWARD_RULES),
      FORWARD_FROM,
      SMTP_URL: smtp.url,
      SES_SUPPRESSION_SYNC: 'push',
      SES_SYNC_RATE_PER_SECOND: '1000',
      AWS_ENDPOINT_URL_SESV2: ses.endpoint,
    });
    say(
      `servers up: redis ${redisServer.url} (AOF, appendfsync always), fauxqs ${emulator.endpoint}, ` +
        `smtp ${smtp.url}, ${WORKERS} workers; publishing at up to ${RATE}/s`,
    );
    return await chaos(ledger, servers, pool, topology, topologyOptions);
  } finally {
    if (pool !== undefined) for (const w of pool.current()) w.child.kill('SIGKILL');
    await Promise.all([...queues.values(), sesSync].map((q) => q.close()));
    await ses.stop();
    redis.disconnect();
    sqs.destroy();
    sns.destroy();
    await smtp.stop();
    await redisServer.stop();
    await emulator.stop();
  }
}

async function chaos(
  ledger: Ledger,
  servers: Servers,
  pool: WorkerPool,
  firstTopology: SesTopology,
  topologyOptions: Parameters<typeof createSesTopology>[2],
): Promise<number> {
  const { redisServer, emulator, smtp, sqs, sns, queues } = servers;
  let topology = firstTopology;
  const total = ledger.publications.length;
  const publisher = new Publisher(sns, topology.topicArn);
  const faults: FaultCounts = {
    workerKills: 0,
    killsMidBatch: 0,
    killsUnsettled: 0,
    redisRestarts: 0,
    maxRedisDowntimeMs: 0,
    emulatorRestarts: 0,
    emulatorOutageMs: 0,
    emulatorResumedMs: 0,
  };
  const inbound = queues.get('inbound')!;
  const hold: SmtpHold = makeSmtpHold(smtp, async (mail) => {
    const key = forwardedKeyOf(mail);
    if (key === null) return true; // not ours: the comparison reports it
    const [sesMessageId, target] = key.split(' ') as [string, string];
    const id = forwardJobId(sesMessageId, target as EmailAddress);
    return (await inbound.getJobState(id)) === 'completed';
  });
  const deadLetters: Message[] = [];

  let reporting = false;
  const progress = setInterval(() => {
    if (reporting) return;
    reporting = true;
    void Promise.all([queueDepth(sqs, topology.queueUrl), jobsInProgress(queues)])
      .then(([depth, jobs]) =>
        say(
          `published ${publisher.published}/${total}; queue ${depth.visible} visible, ` +
            `${depth.inFlight} in flight; jobs ${jobs.pending} waiting, ${jobs.active} active, ` +
            `${jobs.failed} failed; smtp accepted ${smtp.accepted.length}`,
        ),
      )
      .catch((error: Error) => say(`progress: ${error.message}`))
      .finally(() => (reporting = false));
  }, PROGRESS_EVERY_MS);

  const killTimes: number[] = [];
  const killWorker = async (slot: number, publishOn: () => void) => {
    if (SMTP_HOLD) {
      hold.hold();
      if (!(await hold.settle(SETTLE_MS))) faults.killsUnsettled++;
    }
    publishOn();
    let result;
    try {
      result = await pool.killMidBatch(slot, 15_000);
    } finally {
      hold.release();
    }
    faults.workerKills++;
    killTimes.push(result.killedAt);
    if (result.midBatch) faults.killsMidBatch++;
    say(
      `fault: SIGKILL worker ${slot} ${result.midBatch ? 'mid-batch' : 'between batches'} ` +
        `(a batch came after ${result.waitedMs} ms); restarting it`,
    );
    await pool.restart(slot);
  };
  const restartRedis = async () => {
    const before = Date.now();
    await redisServer.restart();
    const downtime = Date.now() - before;
    faults.redisRestarts++;
    faults.maxRedisDowntimeMs = Math.max(faults.maxRedisDowntimeMs, downtime);
    say(`fault: SIGKILL redis, restarted on its AOF in ${downtime} ms`);
  };
  /** Publishing may run a little ahead of the schedule's i-th fault, not further. */
  const limitBefore = (schedule: readonly [number, Fault][], i: number) =>
    i < schedule.length ? Math.ceil((schedule[i]![0] + PUBLISH_AHEAD) * total) : Infinity;
  const runFaults = async (schedule: readonly [number, Fault][]) => {
    for (const [i, [share, fault]] of schedule.entries()) {
      publisher.limit = limitBefore(schedule, i);
      while (publisher.published < share * total) await delay(20);
      // The kill waits for its worker's next batch: publishing must flow until then.
      const publishOn = () => (publisher.limit = Infinity);
      if (fault === 'restartRedis') {
        publishOn();
        await restartRedis();
      } else await killWorker(fault === 'killWorker0' ? 0 : 1, publishOn);
    }
    publisher.limit = Infinity;
  };
  const queueEmpty = async () => {
    const depth = await queueDepth(sqs, topology.queueUrl);
    return depth.visible === 0 && depth.inFlight === 0;
  };

  try {
    const half = Math.floor(total / 2);
    await Promise.all([
      publisher.publish(ledger.publications.slice(0, half)),
      runFaults(FIRST_HALF),
    ]);

    // fauxqs keeps nothing across a restart: restart it only once the queue is drained (every
    // message received and deleted), keeping what the DLQ holds, then create the same topology.
    await steadily('the first half drained from the queue', QUIET_TIMEOUT_MS, queueEmpty);
    deadLetters.push(...(await takeDeadLetters(sqs, topology.dlqUrl)));
    const outageFrom = Date.now();
    await emulator.restart();
    const recreated = await createSesTopology(sqs, sns, topologyOptions);
    if (recreated.queueUrl !== topology.queueUrl || recreated.dlqUrl !== topology.dlqUrl)
      throw new Error(`the recreated topology moved: ${recreated.queueUrl} ${recreated.dlqUrl}`);
    topology = recreated;
    publisher.retarget(topology.topicArn);
    faults.emulatorRestarts++;
    faults.emulatorOutageMs = Date.now() - outageFrom;
    say(
      `fault: emulator restarted (down ${faults.emulatorOutageMs} ms, topology recreated); ` +
        `${deadLetters.length} dead letters kept; waiting for the workers to resume`,
    );
    await Promise.all(pool.current().map((worker) => readyAgain(worker)));
    // Polling resumes by itself (a poller told the queue did not exist waits 10 s: sqs-consumer's
    // authenticationErrorTimeout): a trickle of publishing until each worker has received again.
    const seen = pool.current().map((worker) => worker.logs.length);
    const trickle = () => (publisher.limit = publisher.published + 10);
    trickle();
    const trickling = setInterval(trickle, 500);
    const secondHalf = publisher.publish(ledger.publications.slice(half));
    try {
      await eventually(
        () =>
          Promise.resolve(
            pool
              .current()
              .every((w, i) => w.logs.slice(seen[i]).some((l) => l.msg === 'batch received')),
          ),
        'both workers to receive again after the emulator restart',
        60_000,
      );
    } finally {
      clearInterval(trickling);
    }
    faults.emulatorResumedMs = Date.now() - outageFrom;
    say(`both workers receiving again ${faults.emulatorResumedMs} ms after the restart began`);
    await Promise.all([secondHalf, runFaults(SECOND_HALF)]);
    say(`all ${total} published; waiting for the queue and the jobs to come to rest`);
    await steadily('the queue drained and every job finished', QUIET_TIMEOUT_MS, async () => {
      const [empty, jobs] = await Promise.all([queueEmpty(), jobsInProgress(queues)]);
      return empty && jobs.pending === 0 && jobs.active === 0;
    });
  } finally {
    clearInterval(progress);
  }

  // The pushes to SES follow the suppression jobs: let them finish too.
  await steadily('the ses-sync queue at rest', QUIET_TIMEOUT_MS, async () => {
    const counts = await servers.sesSync.getJobCounts(
      'waiting',
      'delayed',
      'active',
      'prioritized',
    );
    return Object.values(counts).every((n) => n === 0);
  });
  const sesList = new Map([...servers.ses.entries].map(([address, e]) => [address, e.reason]));
  say(`SES's list holds ${sesList.size} addresses (${servers.ses.requests.length} SES requests)`);
  deadLetters.push(...(await takeDeadLetters(sqs, topology.dlqUrl)));
  const suppression = await readSuppression(servers.redis, PREFIX, ledger.suppressed.keys());
  const window = await forwardWindow(inbound, smtp.accepted, hold);
  const { failed } = await jobsInProgress(queues);
  for (const queue of queues.values()) {
    for (const job of await queue.getFailed(0, 4))
      say(`failed job ${queue.name} ${job.id}: ${job.failedReason} (attempts ${job.attemptsMade})`);
  }
  const sesFailed = await servers.sesSync.getFailedCount();
  for (const job of await servers.sesSync.getFailed(0, 4))
    say(`failed job ses-sync ${job.id}: ${job.failedReason} (attempts ${job.attemptsMade})`);
  const verdict = compare(ledger, {
    suppression,
    accepted: smtp.accepted,
    deadLetters,
    failedJobs: failed + sesFailed,
    sesList,
  });
  const failures = [...verdict.failures];
  for (const crash of pool.crashes) failures.push(`worker crashed: ${crash}`);
  const exits = await pool.stop();
  if (exits.some((code) => code !== 0))
    failures.push(`workers exited ${exits.join(', ')} on SIGTERM (expected 0)`);

  const { lost, duplicated, ...found } = verdict.figures;
  const figures = {
    published: total,
    lost,
    duplicated,
    faults: faults.workerKills + faults.redisRestarts + faults.emulatorRestarts,
    distinct: ledger.unique,
    publishedTwice: ledger.duplicates,
    ...faults,
    ...found,
    smtpAccepted: smtp.accepted.length,
    smtpDeferred: hold.deferred,
    ...window,
    crashes: pool.crashes.length,
    checksFailed: failures.length,
    smtpHold: SMTP_HOLD ? 'on' : 'off',
    seed: SEED,
    durationSeconds: Number(((performance.now() - startedAt) / 1000).toFixed(1)),
  };
  sayWorkerWarnings(pool);
  for (const failure of failures) say(`FAILED: ${failure}`);
  for (const line of explainDuplicateForwards(smtp.accepted, hold, killTimes)) say(line);
  if (failures.length === 0) say('every check held');
  recordResult(figures);
  return lost > 0 || duplicated > 0 || failures.length > 0 ? 1 : 0;
}

/** What the workers warned about, by message: the faults should show, and nothing else. */
function sayWorkerWarnings(pool: WorkerPool): void {
  const counts = new Map<string, { n: number; example: string | undefined }>();
  for (const worker of pool.all()) {
    for (const line of worker.logs) {
      if (line.level === 'warn' || line.level === 'error' || line.level === 'fatal') {
        // "undecodable message: <the error>" counts as one kind of line, whatever the error.
        const key = `${line.level} "${line.msg.split(': ')[0]}"`;
        const seen = counts.get(key);
        if (seen === undefined) counts.set(key, { n: 1, example: errorText(line.err) });
        else seen.n++;
      }
    }
  }
  const top = [...counts].sort((a, b) => b[1].n - a[1].n);
  say(
    `worker warnings and errors: ${
      top
        .map(
          ([key, { n, example }]) => `${key} ×${n}${example === undefined ? '' : ` (${example})`}`,
        )
        .join(', ') || 'none'
    }`,
  );
}

/** A logged `err`: pino writes an Error as an object with its message. */
function errorText(err: unknown): string | undefined {
  if (err === undefined) return undefined;
  if (typeof err === 'object' && err !== null && 'message' in err) return String(err.message);
  return typeof err === 'string' ? err : JSON.stringify(err);
}

/** For each copy forwarded twice: how long before a worker was SIGKILLed its first copy went. */
function explainDuplicateForwards(
  accepted: readonly ReceivedMail[],
  hold: SmtpHold,
  killTimes: readonly number[],
): string[] {
  const first = new Map<string, number>();
  const twice = new Set<string>();
  for (const mail of accepted) {
    const key = forwardedKeyOf(mail);
    const at = hold.acceptedAt(mail);
    if (key === null || at === undefined) continue;
    if (first.has(key)) twice.add(key);
    else first.set(key, at);
  }
  return [...twice].map((key) => {
    const at = first.get(key)!;
    const next = Math.min(...killTimes.filter((k) => k >= at));
    return Number.isFinite(next)
      ? `duplicate ${key}: first copy accepted ${next - at} ms before a worker was SIGKILLed`
      : `duplicate ${key}: no worker was killed after its first copy`;
  });
}

/**
 * The at-least-once window of forwarding, measured: from the SMTP server's 250 to the moment the
 * worker recorded the forward job as completed (BullMQ's finishedOn). A process killed inside it
 * sends that copy again when the job is retried.
 */
async function forwardWindow(
  inbound: Queue,
  accepted: readonly ReceivedMail[],
  hold: SmtpHold,
): Promise<{ forwardWindowP50Ms: number; forwardWindowP99Ms: number; forwardWindowMaxMs: number }> {
  const finishedOn = new Map<string, number>();
  for (const job of await inbound.getJobs(['completed'], 0, -1)) {
    if (job.id !== undefined && job.finishedOn !== undefined)
      finishedOn.set(job.id, job.finishedOn);
  }
  const windows: number[] = [];
  for (const mail of accepted) {
    const key = forwardedKeyOf(mail);
    const at = hold.acceptedAt(mail);
    if (key === null || at === undefined) continue;
    const [sesMessageId, target] = key.split(' ') as [string, string];
    const done = finishedOn.get(forwardJobId(sesMessageId, target as EmailAddress));
    if (done !== undefined && done >= at) windows.push(done - at);
  }
  windows.sort((a, b) => a - b);
  const at = (share: number) =>
    windows[Math.min(windows.length - 1, Math.floor(share * windows.length))] ?? 0;
  return { forwardWindowP50Ms: at(0.5), forwardWindowP99Ms: at(0.99), forwardWindowMaxMs: at(1) };
}

/** Waits until a worker's /readyz answers 200 again (its SQS check is cached for 5 s). */
async function readyAgain(worker: WorkerProcess) {
  const port = await worker.httpPort();
  const deadline = Date.now() + 60_000;
  for (;;) {
    const status = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`worker on port ${port} not ready again`);
    await delay(250);
  }
}

/** bench/results/chaos.json, as bench/support.ts record() writes a benchmark's; then the line. */
function recordResult(figures: Record<string, number | string>): void {
  const result = { suite: 'chaos', ...figures };
  const dir = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const context = {
    recordedAt: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
  };
  writeFileSync(join(dir, 'chaos.json'), `${JSON.stringify({ ...result, context }, null, 2)}\n`);
  console.log(JSON.stringify(result));
}

// The servers' child processes are unreferenced (servers.ts), so while the suite only waits for
// them to end nothing would keep Node running: it would exit 0 before main() has returned.
const keepAlive = setInterval(() => undefined, 60_000);
main()
  .then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      // The suite itself broke (a server would not start, a wait timed out): still one JSON line.
      console.error(error);
      const message = error instanceof Error ? error.message : String(error);
      console.log(JSON.stringify({ suite: 'chaos', error: message.split('\n')[0], seed: SEED }));
      process.exitCode = 1;
    },
  )
  .finally(() => clearInterval(keepAlive));
