/**
 * What every chaos suite runs around its Redis: fauxqs as a child process with the SES topology,
 * an SMTP server, SES's suppression list (the SESv2 fake), the built worker as a pool of
 * processes, and the suite's own view of the job queues. Then, once the faults are over, the wait
 * for everything to come to rest and the verdict: what came of the ledger's notifications.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { Message, SQSClient } from '@aws-sdk/client-sqs';
import type { Queue } from 'bullmq';
import { createSesTopology, type SesTopology } from '../../adapters/emulator/topology';
import type { RedisClient } from '../../adapters/redis/connection';
import type { EmailAddress } from '../../domain/address';
import { forwardJobId } from '../../domain/forwarding/policy';
import { QUEUE_NAMES, type QueueName } from '../../domain/jobs';
import { SES_SYNC_QUEUE } from '../../worker/sesSync';
import { startEmulatorProcess } from '../support/servers';
import { startSesV2Fake, type SesV2Fake } from '../support/sesv2Fake';
import { startSmtpServer, type TestSmtpServer } from '../support/smtp';
import { clientsFor, queueDepth } from '../support/sqs';
import { FORWARD_FROM, FORWARD_RULES, type Ledger } from './ledger';
import {
  compare,
  forwardedKeyOf,
  makeSmtpHold,
  readSuppression,
  takeDeadLetters,
  workerQueue,
  type SmtpHold,
  type Verdict,
} from './outcomes';
import type { Publisher } from './publisher';
import { forwardWindow, recordResult, sayWorkerWarnings, type Say } from './report';
import { startWorkerPool, type WorkerPool } from './workers';

/** Short, so that what a killed worker held comes back within seconds. */
export const VISIBILITY_TIMEOUT_SECONDS = 5;
const JOB_LOCK_MS = 4000;
const PROGRESS_EVERY_MS = 5000;
const QUIET_TIMEOUT_MS = 150_000;

export interface StageOptions {
  /** The SNS topic's and queues' name. */
  readonly name: string;
  readonly prefix: string;
  readonly workers: number;
  /** The suite's own connection: it must wait out Redis's outages. */
  readonly redis: RedisClient;
  /** REDIS_URL or REDIS_CLUSTER_NODES, and any other Redis variable the workers get. */
  readonly redisEnv: Readonly<Record<string, string>>;
}

type TopologyOptions = Parameters<typeof createSesTopology>[2];

export interface Stage {
  readonly emulator: Awaited<ReturnType<typeof startEmulatorProcess>>;
  readonly smtp: TestSmtpServer;
  /** SES's account-level suppression list, which the workers push to (SES_SUPPRESSION_SYNC). */
  readonly ses: SesV2Fake;
  readonly sqs: SQSClient;
  readonly sns: SNSClient;
  readonly redis: RedisClient;
  /** BULLMQ_PREFIX. */
  readonly prefix: string;
  readonly queues: ReadonlyMap<QueueName, Queue>;
  readonly sesSync: Queue;
  readonly topologyOptions: TopologyOptions;
  /** Replaced when a suite restarts the emulator and creates the topology again. */
  topology: SesTopology;
  readonly pool: WorkerPool;
  readonly hold: SmtpHold;
  /** Taken off the DLQ so far (a suite that restarts the emulator takes them first). */
  readonly deadLetters: Message[];
  /** Kills the workers, closes the suite's clients, stops the servers (not Redis). */
  stop(): Promise<void>;
}

export async function startStage(options: StageOptions): Promise<Stage> {
  const { redis, prefix } = options;
  const [emulator, smtp, ses] = await Promise.all([
    startEmulatorProcess(),
    startSmtpServer(),
    startSesV2Fake(),
  ]);
  const { sqs, sns } = clientsFor(emulator);
  const queues = new Map(QUEUE_NAMES.map((name) => [name, workerQueue(name, redis, prefix)]));
  const sesSync = workerQueue(SES_SYNC_QUEUE, redis, prefix);
  let pool: WorkerPool | undefined;
  const stop = async () => {
    if (pool !== undefined) for (const w of pool.current()) w.child.kill('SIGKILL');
    await Promise.all([...queues.values(), sesSync].map((q) => q.close()));
    await ses.stop();
    sqs.destroy();
    sns.destroy();
    await smtp.stop();
    await emulator.stop();
  };
  try {
    const topologyOptions: TopologyOptions = {
      name: options.name,
      visibilityTimeoutSeconds: VISIBILITY_TIMEOUT_SECONDS,
      // Generous, as docs/operations.md ("Redis") advises: no outage or kill may redrive a good message.
      maxReceiveCount: 10,
    };
    const topology = await createSesTopology(sqs, sns, topologyOptions);
    pool = await startWorkerPool(options.workers, {
      SQS_QUEUE_URL: topology.queueUrl,
      SQS_DLQ_URL: topology.dlqUrl,
      AWS_REGION: emulator.region,
      AWS_ENDPOINT_URL: emulator.endpoint,
      ...options.redisEnv,
      BULLMQ_PREFIX: prefix,
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
    const inbound = queues.get('inbound')!;
    const hold = makeSmtpHold(smtp, async (mail) => {
      const key = forwardedKeyOf(mail);
      if (key === null) return true; // not ours: the comparison reports it
      const [sesMessageId, target] = key.split(' ') as [string, string];
      const id = forwardJobId(sesMessageId, target as EmailAddress);
      return (await inbound.getJobState(id)) === 'completed';
    });
    return {
      emulator,
      smtp,
      ses,
      sqs,
      sns,
      redis,
      prefix,
      queues,
      sesSync,
      topologyOptions,
      topology,
      pool,
      hold,
      deadLetters: [],
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

export async function jobsInProgress(queues: ReadonlyMap<QueueName, Queue>) {
  let pending = 0;
  let delayed = 0;
  let active = 0;
  let failed = 0;
  /** `<queue> <pending>/<active>` for each queue with work not finished. */
  const unfinished: string[] = [];
  for (const queue of queues.values()) {
    const counts = await queue.getJobCounts(
      'waiting',
      'active',
      'delayed',
      'prioritized',
      'waiting-children',
      'failed',
    );
    const queuePending =
      counts.waiting! + counts.delayed! + counts.prioritized! + counts['waiting-children']!;
    pending += queuePending;
    delayed += counts.delayed!;
    active += counts.active!;
    failed += counts.failed!;
    if (queuePending + counts.active! > 0)
      unfinished.push(`${queue.name} ${queuePending}/${counts.active}`);
  }
  return { pending, delayed, active, failed, unfinished };
}

/** Polls `probe` until it holds on two probes in a row, half a second apart. */
export async function steadily(what: string, timeoutMs: number, probe: () => Promise<boolean>) {
  const deadline = Date.now() + timeoutMs;
  let held = 0;
  while (held < 2) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    held = (await probe()) ? held + 1 : 0;
    if (held < 2) await delay(500);
  }
}

/** Every message received and deleted. */
export async function queueEmpty(stage: Stage): Promise<boolean> {
  const depth = await queueDepth(stage.sqs, stage.topology.queueUrl);
  return depth.visible === 0 && depth.inFlight === 0;
}

export const untilQueueEmpty = (stage: Stage, what: string): Promise<void> =>
  steadily(what, QUIET_TIMEOUT_MS, () => queueEmpty(stage));

/** A progress line every few seconds until the returned function is called. */
export function startProgress(
  stage: Stage,
  publisher: Publisher,
  total: number,
  say: Say,
): () => void {
  let reporting = false;
  const progress = setInterval(() => {
    if (reporting) return;
    reporting = true;
    void Promise.all([queueDepth(stage.sqs, stage.topology.queueUrl), jobsInProgress(stage.queues)])
      .then(([depth, jobs]) =>
        say(
          `published ${publisher.published}/${total}; queue ${depth.visible} visible, ` +
            `${depth.inFlight} in flight; jobs ${jobs.pending} waiting (${jobs.delayed} delayed), ` +
            `${jobs.active} active, ` +
            `${jobs.failed} failed; smtp accepted ${stage.smtp.accepted.length}`,
        ),
      )
      .catch((error: Error) => say(`progress: ${error.message}`))
      .finally(() => (reporting = false));
  }, PROGRESS_EVERY_MS);
  return () => clearInterval(progress);
}

/**
 * Until the queue is drained, every job has finished, and so have the pushes to SES. If they do
 * not come to rest, says what is left and what the workers warned about.
 */
export async function untilAtRest(stage: Stage, say: Say): Promise<void> {
  try {
    await steadily('the queue drained and every job finished', QUIET_TIMEOUT_MS, async () => {
      const [empty, jobs] = await Promise.all([queueEmpty(stage), jobsInProgress(stage.queues)]);
      return empty && jobs.pending === 0 && jobs.active === 0;
    });
    // The pushes to SES follow the suppression jobs: let them finish too.
    await steadily('the ses-sync queue at rest', QUIET_TIMEOUT_MS, async () => {
      const counts = await stage.sesSync.getJobCounts(
        'waiting',
        'delayed',
        'active',
        'prioritized',
      );
      return Object.values(counts).every((n) => n === 0);
    });
  } catch (error) {
    const jobs = await jobsInProgress(stage.queues);
    say(`not at rest: jobs waiting/active per queue: ${jobs.unfinished.join(', ') || 'none'}`);
    for (const queue of stage.queues.values()) say(`${queue.name}: ${await queueState(queue)}`);
    sayWorkerWarnings(stage.pool, say);
    keepWorkerLogs(stage.pool, say);
    throw error;
  }
}

export interface Judgement {
  readonly verdict: Verdict;
  /** The comparison's failures, the workers' crashes, a worker that did not stop cleanly. */
  readonly failures: readonly string[];
  /** Figures beside the comparison's: SMTP, the forwarding window, crashes. */
  readonly observed: Record<string, number>;
}

/**
 * Reads what came of the ledger once all is at rest (SES's list, the DLQ, the suppression list,
 * the mail), compares, and stops the workers with SIGTERM.
 */
export async function judge(stage: Stage, ledger: Ledger, say: Say): Promise<Judgement> {
  const { ses, smtp, sqs, queues, pool, hold } = stage;
  const sesList = new Map([...ses.entries].map(([address, e]) => [address, e.reason]));
  say(`SES's list holds ${sesList.size} addresses (${ses.requests.length} SES requests)`);
  stage.deadLetters.push(...(await takeDeadLetters(sqs, stage.topology.dlqUrl)));
  const suppression = await readSuppression(stage.redis, stage.prefix, ledger.suppressed.keys());
  const window = await forwardWindow(queues.get('inbound')!, smtp.accepted, hold);
  const { failed } = await jobsInProgress(queues);
  for (const queue of queues.values()) {
    for (const job of await queue.getFailed(0, 4))
      say(`failed job ${queue.name} ${job.id}: ${job.failedReason} (attempts ${job.attemptsMade})`);
  }
  const sesFailed = await stage.sesSync.getFailedCount();
  for (const job of await stage.sesSync.getFailed(0, 4))
    say(`failed job ses-sync ${job.id}: ${job.failedReason} (attempts ${job.attemptsMade})`);
  const verdict = compare(ledger, {
    suppression,
    accepted: smtp.accepted,
    deadLetters: stage.deadLetters,
    failedJobs: failed + sesFailed,
    sesList,
  });
  const failures = [...verdict.failures];
  for (const crash of pool.crashes) failures.push(`worker crashed: ${crash}`);
  const exits = await pool.stop();
  if (exits.some((code) => code !== 0))
    failures.push(`workers exited ${exits.join(', ')} on SIGTERM (expected 0)`);
  return {
    verdict,
    failures,
    observed: {
      smtpAccepted: smtp.accepted.length,
      smtpDeferred: hold.deferred,
      ...window,
      crashes: pool.crashes.length,
      checksFailed: failures.length,
    },
  };
}

/** What a queue that does not come to rest looks like: its counts, pause, and its workers. */
async function queueState(queue: Queue): Promise<string> {
  const [counts, paused, workers, waiting] = await Promise.all([
    queue.getJobCounts('waiting', 'prioritized', 'waiting-children', 'delayed', 'active'),
    queue.isPaused(),
    queue.getWorkersCount(),
    queue.getJobs(['waiting'], 0, 0),
  ]);
  const oldest = waiting[0];
  return (
    `${JSON.stringify(counts)}, paused ${paused}, ${workers} workers connected` +
    (oldest === undefined
      ? ''
      : `; a waiting job: ${oldest.name}, attempts ${oldest.attemptsMade}, ` +
        `added ${Math.round((Date.now() - oldest.timestamp) / 1000)} s ago`)
  );
}

/** CHAOS_LOG_DIR: every worker's log lines, one file per process, for a failure's details. */
function keepWorkerLogs(pool: WorkerPool, say: Say): void {
  const dir = process.env.CHAOS_LOG_DIR;
  if (dir === undefined || dir === '') return;
  mkdirSync(dir, { recursive: true });
  pool.all().forEach((worker, i) => {
    const lines = worker.logs.map((line) => JSON.stringify(line)).join('\n');
    writeFileSync(join(dir, `worker-${i}.log`), `${lines}\n`);
  });
  say(`worker logs in ${dir}`);
}

/**
 * Says what the workers warned about and what failed, records the figures (the last line) and
 * returns the exit code: 1 when anything was lost or done twice, or a check failed.
 */
export function conclude(
  stage: Stage,
  result: { suite: string; file: string; figures: Record<string, number | string> },
  judgement: Judgement,
  say: Say,
  explain: readonly string[],
): number {
  sayWorkerWarnings(stage.pool, say);
  keepWorkerLogs(stage.pool, say);
  for (const failure of judgement.failures) say(`FAILED: ${failure}`);
  for (const line of explain) say(line);
  if (judgement.failures.length === 0) say('every check held');
  recordResult(result.suite, result.file, result.figures);
  const { lost, duplicated } = judgement.verdict.figures;
  return lost > 0 || duplicated > 0 || judgement.failures.length > 0 ? 1 : 0;
}
