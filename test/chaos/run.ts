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
 * kills fall between an SMTP 250 and the job's completion — see docs/testing.md).
 */
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { createSesTopology } from '../../adapters/emulator/topology';
import { eventually } from '../support/await';
import { startRedis } from '../support/servers';
import type { WorkerProcess } from '../support/workerProcess';
import { buildLedger, type Ledger } from './ledger';
import { takeDeadLetters } from './outcomes';
import { Publisher, runSchedule, type ScheduledFault } from './publisher';
import { explainDuplicateForwards, makeSay, runSuite, secondsSinceStart } from './report';
import { flag, positiveInteger, seedFromEnv } from './settings';
import {
  conclude,
  judge,
  startProgress,
  startStage,
  untilAtRest,
  untilQueueEmpty,
  type Stage,
} from './stage';

const MESSAGES = positiveInteger('CHAOS_MESSAGES', 10_000);
const SEED = seedFromEnv();
const RATE = positiveInteger('CHAOS_RATE', 400);
const SMTP_HOLD = flag('CHAOS_SMTP_HOLD', true);
const DUPLICATE_SHARE = 0.1;
const WORKERS = 2;
const PREFIX = '{chaos}';
const SETTLE_MS = 20_000;

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

const say = makeSay('chaos');

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

async function main(): Promise<number> {
  const ledger = buildLedger(MESSAGES, DUPLICATE_SHARE, SEED);
  say(
    `seed ${SEED}: ${ledger.publications.length} notifications (${ledger.unique} distinct + ` +
      `${ledger.duplicates} published twice): ${[...ledger.kinds].map(([k, n]) => `${k} ${n}`).join(', ')}`,
  );
  const redisServer = await startRedis({ appendOnly: true });
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
  redis.on('error', () => undefined); // it reconnects by itself after the Redis restarts
  let stage: Stage | undefined;
  try {
    stage = await startStage({
      name: 'chaos',
      prefix: PREFIX,
      workers: WORKERS,
      redis,
      redisEnv: { REDIS_URL: redisServer.url },
    });
    say(
      `servers up: redis ${redisServer.url} (AOF, appendfsync always), fauxqs ${stage.emulator.endpoint}, ` +
        `smtp ${stage.smtp.url}, ${WORKERS} workers; publishing at up to ${RATE}/s`,
    );
    return await chaos(ledger, stage, redisServer);
  } finally {
    await stage?.stop();
    redis.disconnect();
    await redisServer.stop();
  }
}

async function chaos(
  ledger: Ledger,
  stage: Stage,
  redisServer: Awaited<ReturnType<typeof startRedis>>,
): Promise<number> {
  const { emulator, sqs, sns, pool, hold } = stage;
  const total = ledger.publications.length;
  const publisher = new Publisher(sns, stage.topology.topicArn, RATE);
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

  const killTimes: number[] = [];
  const killWorker = async (slot: number, publishOn: () => void) => {
    if (SMTP_HOLD) {
      hold.hold();
      if (!(await hold.settle(SETTLE_MS))) faults.killsUnsettled++;
    }
    // The kill waits for its worker's next batch: publishing must flow until then.
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
  const restartRedis = async (publishOn: () => void) => {
    publishOn();
    const before = Date.now();
    await redisServer.restart();
    const downtime = Date.now() - before;
    faults.redisRestarts++;
    faults.maxRedisDowntimeMs = Math.max(faults.maxRedisDowntimeMs, downtime);
    say(`fault: SIGKILL redis, restarted on its AOF in ${downtime} ms`);
  };
  const scheduled = (schedule: readonly [number, Fault][]): ScheduledFault[] =>
    schedule.map(([share, fault]) => [
      share,
      (publishOn) =>
        fault === 'restartRedis'
          ? restartRedis(publishOn)
          : killWorker(fault === 'killWorker0' ? 0 : 1, publishOn),
    ]);

  const stopProgress = startProgress(stage, publisher, total, say);
  try {
    const half = Math.floor(total / 2);
    await Promise.all([
      publisher.publish(ledger.publications.slice(0, half)),
      runSchedule(publisher, total, scheduled(FIRST_HALF)),
    ]);

    // fauxqs keeps nothing across a restart: restart it only once the queue is drained (every
    // message received and deleted), keeping what the DLQ holds, then create the same topology.
    await untilQueueEmpty(stage, 'the first half drained from the queue');
    stage.deadLetters.push(...(await takeDeadLetters(sqs, stage.topology.dlqUrl)));
    const outageFrom = Date.now();
    await emulator.restart();
    const recreated = await createSesTopology(sqs, sns, stage.topologyOptions);
    if (
      recreated.queueUrl !== stage.topology.queueUrl ||
      recreated.dlqUrl !== stage.topology.dlqUrl
    )
      throw new Error(`the recreated topology moved: ${recreated.queueUrl} ${recreated.dlqUrl}`);
    stage.topology = recreated;
    publisher.retarget(recreated.topicArn);
    faults.emulatorRestarts++;
    faults.emulatorOutageMs = Date.now() - outageFrom;
    say(
      `fault: emulator restarted (down ${faults.emulatorOutageMs} ms, topology recreated); ` +
        `${stage.deadLetters.length} dead letters kept; waiting for the workers to resume`,
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
    await Promise.all([secondHalf, runSchedule(publisher, total, scheduled(SECOND_HALF))]);
    say(`all ${total} published; waiting for the queue and the jobs to come to rest`);
    await untilAtRest(stage, say);
  } finally {
    stopProgress();
  }

  const judgement = await judge(stage, ledger, say);
  const { lost, duplicated, ...found } = judgement.verdict.figures;
  const figures = {
    published: total,
    lost,
    duplicated,
    faults: faults.workerKills + faults.redisRestarts + faults.emulatorRestarts,
    distinct: ledger.unique,
    publishedTwice: ledger.duplicates,
    ...faults,
    ...found,
    ...judgement.observed,
    smtpHold: SMTP_HOLD ? 'on' : 'off',
    seed: SEED,
    durationSeconds: Number(secondsSinceStart().toFixed(1)),
  };
  const explain = explainDuplicateForwards(stage.smtp.accepted, hold, killTimes, 'worker SIGKILL');
  return conclude(stage, { suite: 'chaos', file: 'chaos', figures }, judgement, say, explain);
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

runSuite('chaos', SEED, main);
