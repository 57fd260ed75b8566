/**
 * Replaying dead letters on real servers: a DLQ of 1,000 messages (undecodable bodies, and valid
 * events of several kinds recorded with the worker's error attributes or none) replayed with a
 * kind filter, the moved ones processed by the worker; dry runs and `dlq stats` that change
 * nothing; a stop in the middle; a message dead-lettered again during its run not moved twice;
 * failed BullMQ jobs retried. The commands run in-process (their CLI wrapper only parses flags).
 */
import {
  ChangeMessageVisibilityBatchCommand,
  SendMessageBatchCommand,
  type Message,
  type MessageAttributeValue,
} from '@aws-sdk/client-sqs';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import pino from 'pino';
import { openQueue, queueLocation } from '../../adapters/bullmq/layout';
import { makeJobQueues } from '../../adapters/bullmq/queues';
import { createSesTopology, type SesTopology } from '../../adapters/emulator/topology';
import { moveDeadLetters, REPLAY_ATTRIBUTE } from '../../adapters/sqs/deadLetterMover';
import { deadLetterAttributes, ERROR_ATTRIBUTES } from '../../adapters/sqs/messages';
import { NO_FILTER, parseReplayFilter, type ReplayFilter } from '../../domain/deadLetters';
import type { JobSpec } from '../../domain/jobs';
import { routeEvent } from '../../domain/routing';
import { decodeSqsBody } from '../../domain/decode';
import { loadConfig } from '../../worker/config';
import { dlqStatsCommand } from '../../worker/commands/dlqStats';
import type { ReplayContext } from '../../worker/commands/replayContext';
import { replayDlqCommand, type ReplayDlqOptions } from '../../worker/commands/replayDlq';
import { replayFailedCommand } from '../../worker/commands/replayFailed';
import type { Io } from '../../worker/io';
import { startWorker, type RunningWorker } from '../../worker/main';
import { eventually } from '../support/await';
import { useServersOn, topologyEnv, type TestServersOn } from '../support/environment';
import { REDIS_MODES } from '../support/redisModes';
import { expectedJobIds, syntheticNotification } from '../support/notifications';
import { queueWork, sameWork } from '../support/queueWork';
import { sdkClientConfig } from '../support/servers';
import { drainVisible, queueDepth } from '../support/sqs';

/** The servers of the suite running now (each Redis mode's suite starts its own). */
let servers: TestServersOn;
let runs = 0;
const workers: RunningWorker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
});

// ---------------------------------------------------------------------------------------------
// A dead-letter queue as the worker leaves it

interface Seeded {
  readonly body: string;
  /** What the test expects the replay to call it. */
  readonly kind: string;
  readonly error: string;
}

const attribute = (value: string): MessageAttributeValue => ({
  DataType: 'String',
  StringValue: value,
});

/**
 * The i-th dead letter: every fifth body does not decode (not JSON, or an invalid bounce, with
 * the attributes the worker writes); the others are distinct valid events, as an older version
 * that did not support them would have dead-lettered them (bounces, opens: decode/unsupported),
 * a signature failure (deliveries), or the redrive policy without any attribute (complaints).
 */
function deadLetter(i: number): Seeded & { attributes: Record<string, MessageAttributeValue> } {
  const withError = (body: string, error: 'decode' | 'signature', reason: string) =>
    deadLetterAttributes({
      message: { Body: body, MessageAttributes: { origin: attribute(`seed-${i}`) } },
      error,
      reason,
      path: '',
      text: `seeded ${reason}`,
    });
  if (i % 5 === 4) {
    const body =
      i % 10 === 4 ? `not json ${i}` : `{"notificationType":"Bounce","mail":"broken ${i}"}`;
    const reason = i % 10 === 4 ? 'notJson' : 'invalid';
    return {
      body,
      kind: 'undecodable',
      error: `decode/${reason}`,
      attributes: withError(body, 'decode', reason),
    };
  }
  // syntheticNotification cycles bounce, complaint, delivery, open, received.
  const body = syntheticNotification(i);
  switch (i % 5) {
    case 0:
      return {
        body,
        kind: 'bounce',
        error: 'decode/unsupported',
        attributes: withError(body, 'decode', 'unsupported'),
      };
    case 1:
      return { body, kind: 'complaint', error: 'redrive', attributes: {} };
    case 2:
      return {
        body,
        kind: 'delivery',
        error: 'signature/untrusted',
        attributes: withError(body, 'signature', 'untrusted'),
      };
    default:
      return {
        body,
        kind: 'open',
        error: 'decode/unsupported',
        attributes: withError(body, 'decode', 'unsupported'),
      };
  }
}

/** Sends the dead letters ten per call, ten calls at a time. */
async function seedDeadLetters(dlqUrl: string, count: number, from = 0): Promise<Seeded[]> {
  const letters = Array.from({ length: count }, (_, i) => deadLetter(from + i));
  const batches: (typeof letters)[] = [];
  for (let i = 0; i < letters.length; i += 10) batches.push(letters.slice(i, i + 10));
  const send = async (): Promise<void> => {
    for (let batch = batches.shift(); batch !== undefined; batch = batches.shift()) {
      const result = await servers.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: dlqUrl,
          Entries: batch.map((l, j) => ({
            Id: String(j),
            MessageBody: l.body,
            MessageAttributes: l.attributes,
          })),
        }),
      );
      if ((result.Failed ?? []).length > 0) throw new Error(JSON.stringify(result.Failed));
    }
  };
  await Promise.all(Array.from({ length: 10 }, send));
  return letters;
}

interface Stored {
  readonly id: string;
  readonly body: string;
  readonly attributes: Record<string, string | undefined>;
}

/**
 * Every message on a queue (including those hidden until `visibleWithin` seconds pass), read
 * and then made visible again: what the queue holds, without changing it.
 */
async function contents(queueUrl: string): Promise<Stored[]> {
  await eventually(
    async () => (await queueDepth(servers.sqs, queueUrl)).inFlight === 0,
    `nothing in flight on ${queueUrl}`,
  );
  const messages = await drainVisible(servers.sqs, queueUrl, 60);
  await release(queueUrl, messages);
  return messages.map((m) => ({
    id: m.MessageId!,
    body: m.Body!,
    attributes: Object.fromEntries(
      Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue]),
    ),
  }));
}

async function release(queueUrl: string, messages: readonly Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 10) {
    await servers.sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.slice(i, i + 10).map((m, j) => ({
          Id: String(j),
          ReceiptHandle: m.ReceiptHandle!,
          VisibilityTimeout: 0,
        })),
      }),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Running the commands and the worker

interface Captured extends Io {
  out: string;
  err: string;
  /** The JSON lines printed so far. */
  lines(): Record<string, unknown>[];
}

function captureIo(onLine?: (line: Record<string, unknown>) => void): Captured {
  const io: Captured = {
    out: '',
    err: '',
    stdout: {
      write: (chunk: string) => {
        io.out += chunk;
        if (onLine && chunk.startsWith('{')) onLine(JSON.parse(chunk) as Record<string, unknown>);
      },
    },
    stderr: { write: (chunk: string) => (io.err += chunk) },
    stdinIsTTY: false,
    readStdin: () => Promise.resolve(''),
    lines: () =>
      io.out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
  return io;
}

function context(io: Io, signal = new AbortController().signal): ReplayContext {
  const { endpoint, credentials } = sdkClientConfig(servers.emulator);
  return { io, signal, progress: { mode: 'none' }, sqsEndpoint: { endpoint, credentials } };
}

interface Setup {
  readonly topology: SesTopology;
  readonly prefix: string;
  readonly env: Record<string, string>;
}

async function setup(): Promise<Setup> {
  runs++;
  const topology = await createSesTopology(servers.sqs, servers.sns, { name: `replay-${runs}` });
  const prefix = `{replay-${runs}}`;
  return {
    topology,
    prefix,
    env: topologyEnv(servers, topology, prefix),
  };
}

const replayOptions = (over: Partial<ReplayDlqOptions> = {}): ReplayDlqOptions => ({
  filter: NO_FILTER,
  max: null,
  rate: null,
  dryRun: false,
  json: true,
  native: false,
  visibilityTimeoutSeconds: 60,
  ...over,
});

const filter = (input: Parameters<typeof parseReplayFilter>[0]): ReplayFilter => {
  const parsed = parseReplayFilter(input);
  if (parsed._tag === 'Left') throw new Error(parsed.left);
  return parsed.right;
};

async function replay(s: Setup, over: Partial<ReplayDlqOptions> = {}, signal?: AbortSignal) {
  const io = captureIo();
  const code = await replayDlqCommand(s.env, replayOptions(over), context(io, signal));
  return { code, io, summary: io.lines().at(-1)! };
}

async function runWorker(s: Setup): Promise<RunningWorker> {
  const config = loadConfig({
    ...s.env,
    HTTP_PORT: '0',
    SQS_WAIT_TIME_SECONDS: '1',
    SNS_VERIFY_SIGNATURES: 'false',
  });
  const { endpoint, credentials } = sdkClientConfig(servers.emulator);
  const worker = await startWorker({
    config,
    log: pino({ level: 'silent' }),
    sqsEndpoint: { endpoint, credentials },
  });
  workers.push(worker);
  return worker;
}

/** True once each queue has completed exactly the expected work, and nothing else. */
async function completedExactly(
  prefix: string,
  expected: Map<string, Set<string>>,
): Promise<boolean> {
  for (const [name, ids] of expected) {
    const work = await queueWork(servers.redis, prefix, name);
    sameWork(name, work.completed, ids);
    expect(work.pending).toBe(0);
  }
  return true;
}

const countedEvents = async (w: RunningWorker): Promise<number> =>
  (await w.metrics.sesEvents.get()).values.reduce((sum, v) => sum + v.value, 0);

const sortedBodies = (items: readonly { body: string }[]) => items.map((i) => i.body).sort();

// ---------------------------------------------------------------------------------------------

describe.each(REDIS_MODES)('on %s Redis', (mode) => {
  const modeServers = useServersOn(mode);
  beforeAll(() => {
    servers = modeServers;
  });

  it('1,000 dead letters: a kind filter moves exactly the bounces and complaints, the worker processes them, the rest stay untouched', async () => {
    const s = await setup();
    const seeded = await seedDeadLetters(s.topology.dlqUrl, 1000);
    const before = await contents(s.topology.dlqUrl);
    expect(before).toHaveLength(1000);
    const matching = seeded.filter((l) => l.kind === 'bounce' || l.kind === 'complaint');
    const others = seeded.filter((l) => !matching.includes(l));
    expect([matching.length, others.length]).toEqual([400, 600]);

    const { code, io, summary } = await replay(s, { filter: filter({ kind: 'bounce,complaint' }) });

    expect(io.err).toBe('');
    expect(code).toBe(0);
    expect(summary).toMatchObject({
      type: 'summary',
      end: 'empty',
      examined: 1000,
      totals: { moved: 400, kept: 600, wouldMove: 0, returned: 0, failed: 0, copied: 0 },
      releaseFailures: 0,
    });
    expect(summary.rows).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          kind: 'bounce',
          error: 'decode/unsupported',
          moved: 200,
          kept: 0,
        }),
        expect.objectContaining({ kind: 'complaint', error: 'redrive', moved: 200, kept: 0 }),
        expect.objectContaining({ kind: 'delivery', error: 'signature/untrusted', kept: 200 }),
        expect.objectContaining({ kind: 'open', error: 'decode/unsupported', kept: 200 }),
        expect.objectContaining({ kind: 'undecodable', error: 'decode/notJson', kept: 100 }),
        expect.objectContaining({ kind: 'undecodable', error: 'decode/invalid', kept: 100 }),
      ]),
    );
    const perMessage = io.lines().filter((l) => l.type === 'message');
    expect(perMessage).toHaveLength(1000);
    expect(new Set(perMessage.map((l) => l.messageId)).size).toBe(1000);

    // The DLQ keeps exactly the others, attributes untouched; the queue has exactly the matching
    // bodies, without the worker's error attributes, with their own and the run's mark.
    const dlqAfter = await contents(s.topology.dlqUrl);
    expect(sortedBodies(dlqAfter)).toEqual(sortedBodies(others));
    const beforeById = new Map(before.map((m) => [m.id, m]));
    for (const m of dlqAfter) expect(m).toEqual(beforeById.get(m.id));
    const moved = await contents(s.topology.queueUrl);
    expect(sortedBodies(moved)).toEqual(sortedBodies(matching));
    for (const m of moved) {
      expect(Object.keys(m.attributes).filter((k) => k.startsWith('ses-worker.error'))).toEqual([]);
      expect(m.attributes[REPLAY_ATTRIBUTE]).toMatch(/^replay-/);
    }
    const bouncesMoved = moved.filter((m) => m.attributes.origin !== undefined);
    expect(bouncesMoved).toHaveLength(200); // complaints came with no attributes at all

    // The worker processes what was moved: each job once; nothing goes back to the DLQ.
    const worker = await runWorker(s);
    const expected = expectedJobIds(matching.map((l) => l.body));
    expect(expected.get('suppression')!.size).toBe(400);
    await eventually(() => completedExactly(s.prefix, expected), 'the moved events’ jobs', 30_000);
    await eventually(
      async () => (await countedEvents(worker)) === 400,
      'the 400 events counted once',
      30_000,
    );
    await eventually(async () => {
      const depth = await queueDepth(servers.sqs, s.topology.queueUrl);
      return depth.visible + depth.inFlight === 0;
    }, 'the queue drained');
    expect(sortedBodies(await contents(s.topology.dlqUrl))).toEqual(sortedBodies(others));
  });

  it('a message dead-lettered again during its replay is not moved twice by that run; a later run moves it', async () => {
    const s = await setup();
    const poison = ['still not json 1', 'still not json 2', '{"eventType":"Teleport","mail":{}}'];
    await servers.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: s.topology.dlqUrl,
        Entries: poison.map((MessageBody, i) => ({ Id: String(i), MessageBody })),
      }),
    );

    // Run A moves them back; the worker dead-letters them again, keeping run A's mark.
    const runA = 'replay-run-a';
    const move = (runId: string) => {
      const outcomes: string[] = [];
      return moveDeadLetters({
        sqs: servers.sqs,
        from: s.topology.dlqUrl,
        to: s.topology.queueUrl,
        runId,
        select: () => true,
        maxSelected: null,
        batchSize: 10,
        visibilityTimeoutSeconds: 30,
        waitTimeSeconds: 1,
        signal: new AbortController().signal,
        onOutcome: (_letter, outcome) => outcomes.push(outcome),
      }).then((report) => ({ report, outcomes }));
    };
    expect((await move(runA)).outcomes).toEqual(['moved', 'moved', 'moved']);
    await runWorker(s);
    const back = await eventually(async () => {
      const dlq = await contents(s.topology.dlqUrl);
      return dlq.length === 3 ? dlq : undefined;
    }, 'the worker to dead-letter them again');
    for (const m of back) {
      expect(m.attributes[REPLAY_ATTRIBUTE]).toBe(runA);
      expect(m.attributes[ERROR_ATTRIBUTES.error]).toBe('decode');
    }
    expect(back.map((m) => m.attributes[ERROR_ATTRIBUTES.reason]).sort()).toEqual([
      'notJson',
      'notJson',
      'unsupported',
    ]);

    // Seen again by run A (as while it still runs): recognised, not moved.
    const again = await move(runA);
    expect(again.outcomes).toEqual(['returned', 'returned', 'returned']);
    expect(await queueDepth(servers.sqs, s.topology.dlqUrl)).toEqual({ visible: 3, inFlight: 0 });
    // A new run moves them: the operator asked again.
    await workers.splice(0)[0]!.stop();
    expect((await move('replay-run-b')).outcomes).toEqual(['moved', 'moved', 'moved']);
  });

  // -------------------------------------------------------------------------------------------
  // Failed BullMQ jobs

  it('replay-failed retries failed jobs once each: dry run lists them, --max limits, then all complete', async () => {
    const s = await setup();
    const bodies = Array.from({ length: 12 }, (_, i) => syntheticNotification(9000 + i * 5)); // bounces
    const specs: JobSpec[] = bodies.flatMap((body) => {
      const decoded = decodeSqsBody(body);
      if (decoded._tag === 'Left') throw new Error(decoded.left.message);
      return routeEvent(decoded.right).filter((job) => job.queue === 'suppression');
    });
    expect(specs).toHaveLength(12);

    // A processor that fails for good until it is fixed (an SMTP server down, a bug).
    let fixed = false;
    const runsPerJob = new Map<string, number>();
    const workerRedis = servers.redisUnderTest.connect({ maxRetriesPerRequest: null });
    const producerRedis = servers.redisUnderTest.connect();
    const at = queueLocation(s.prefix, 'suppression');
    const worker = new Worker(
      at.name,
      (job) => {
        runsPerJob.set(job.id!, (runsPerJob.get(job.id!) ?? 0) + 1);
        if (!fixed) throw new UnrecoverableError(`downstream unavailable for ${job.name}`);
        return Promise.resolve();
      },
      { connection: workerRedis, prefix: at.prefix },
    );
    const queues = makeJobQueues(producerRedis, s.prefix, {
      attempts: 3,
      backoffMs: 10,
      keepCompletedSeconds: 3600,
      keepFailedSeconds: 3600,
    });
    const queue = openQueue('suppression', servers.redis, s.prefix);
    try {
      expect((await queues.enqueue(specs)).failed.size).toBe(0);
      await eventually(async () => (await queue.getFailedCount()) === 12, '12 failed jobs');

      const dry = captureIo();
      expect(
        await replayFailedCommand(
          s.env,
          { queue: 'suppression', max: null, dryRun: true, json: true },
          context(dry),
        ),
      ).toBe(0);
      const listed = dry.lines().filter((l) => l.type === 'job');
      expect(listed.map((l) => l.id).sort()).toEqual(specs.map((j) => j.id).sort());
      expect(listed.every((l) => l.outcome === 'wouldRetry' && l.name === 'bounce')).toBe(true);
      expect(listed[0]!.failedReason).toBe('downstream unavailable for bounce');
      expect(dry.lines().at(-1)).toMatchObject({ type: 'summary', totals: { wouldRetry: 12 } });
      expect(await queue.getFailedCount()).toBe(12);

      fixed = true;
      const some = captureIo();
      expect(
        await replayFailedCommand(
          s.env,
          { queue: 'suppression', max: 5, dryRun: false, json: false },
          context(some),
        ),
      ).toBe(0);
      expect(some.out).toContain('Retried 5 failed jobs in suppression');
      expect(some.out).toMatch(/^ {2}bounce +downstream unavailable for bounce +5$/m);
      expect(some.out).toContain('Stopped at --max 5.');
      await eventually(
        async () => (await queue.getCompletedCount()) === 5 && (await queue.getFailedCount()) === 7,
        '5 retried jobs completed, 7 still failed',
      );

      const rest = captureIo();
      expect(
        await replayFailedCommand(
          s.env,
          { queue: 'suppression', max: null, dryRun: false, json: true },
          context(rest),
        ),
      ).toBe(0);
      expect(rest.lines().at(-1)).toMatchObject({ end: 'done', totals: { retried: 7 } });
      await eventually(
        async () =>
          (await queue.getCompletedCount()) === 12 && (await queue.getFailedCount()) === 0,
        'every job completed',
      );
      // Each job ran once broken and once fixed; a retry never duplicated a job.
      expect([...runsPerJob.values()]).toEqual(Array(12).fill(2));
      expect((await queue.getJobs(['completed'])).map((j) => j.id).sort()).toEqual(
        specs.map((j) => j.id).sort(),
      );

      // Nothing left to retry.
      const none = captureIo();
      expect(
        await replayFailedCommand(
          s.env,
          { queue: 'suppression', max: null, dryRun: false, json: false },
          context(none),
        ),
      ).toBe(0);
      expect(none.out).toMatch(/^Retried 0 failed jobs in suppression in \S+\.\n$/);
    } finally {
      await worker.close();
      await queue.close();
      await queues.close();
      workerRedis.disconnect();
      producerRedis.disconnect();
    }
  });

  it('replay-failed moves the jobs that failed before the upgrade (previous key layout) into the current queue, once each', async () => {
    const s = await setup();
    const specs: JobSpec[] = Array.from({ length: 7 }, (_, i) => {
      const decoded = decodeSqsBody(syntheticNotification(9500 + i * 5)); // bounces
      if (decoded._tag === 'Left') throw new Error(decoded.left.message);
      return routeEvent(decoded.right).find((job) => job.queue === 'suppression')!;
    });
    const [previousSpecs, currentSpecs] = [specs.slice(0, 4), specs.slice(4)];
    const connection = servers.redisUnderTest.connect({ maxRetriesPerRequest: null });
    // The previous version's queue: BULLMQ_PREFIX as written, the plain name.
    const previous = new Queue('suppression', { connection, prefix: s.prefix });
    const current = openQueue('suppression', connection, s.prefix);
    let fixed = false;
    const runs: string[] = [];
    const processor = (job: Job) => {
      runs.push(`${fixed ? 'fixed' : 'broken'} ${job.id}`);
      if (!fixed) throw new UnrecoverableError('downstream unavailable');
      return Promise.resolve();
    };
    const broken = new Worker('suppression', processor, { connection, prefix: s.prefix });
    const at = queueLocation(s.prefix, 'suppression');
    const worker = new Worker(at.name, processor, { connection, prefix: at.prefix });
    const replayFailed = async (over: { max?: number; dryRun?: boolean } = {}) => {
      const io = captureIo();
      const code = await replayFailedCommand(
        s.env,
        { queue: 'suppression', max: over.max ?? null, dryRun: over.dryRun ?? false, json: true },
        context(io),
      );
      return { code, jobs: io.lines().filter((l) => l.type === 'job'), summary: io.lines().at(-1) };
    };
    try {
      for (const spec of previousSpecs)
        await previous.add(spec.name, spec.data, { jobId: spec.id });
      for (const spec of currentSpecs) await current.add(spec.name, spec.data, { jobId: spec.id });
      await eventually(
        async () =>
          (await previous.getFailedCount()) === 4 && (await current.getFailedCount()) === 3,
        'the jobs failed in both layouts',
      );
      await broken.close();

      const dry = await replayFailed({ dryRun: true });
      expect(dry.code).toBe(0);
      expect(
        dry.jobs
          .map((l) => `${l.layout === 'previous' ? 'previous' : 'current'} ${String(l.id)}`)
          .sort(),
      ).toEqual(
        [
          ...previousSpecs.map((j) => `previous ${j.id}`),
          ...currentSpecs.map((j) => `current ${j.id}`),
        ].sort(),
      );
      expect(await previous.getFailedCount()).toBe(4);

      // A run stopped between its add and its removal: the job is in the current queue already.
      const [interrupted] = previousSpecs;
      fixed = true;
      await current.add(interrupted!.name, interrupted!.data, { jobId: interrupted!.id });

      const some = await replayFailed({ max: 2 });
      expect(some.code).toBe(0);
      expect(some.summary).toMatchObject({ end: 'max', totals: { retried: 2 } });
      expect(some.jobs.every((l) => l.layout === 'previous')).toBe(true);
      expect(await previous.getFailedCount()).toBe(2);

      const rest = await replayFailed();
      expect(rest.summary).toMatchObject({ end: 'done', totals: { retried: 5 } });
      await eventually(
        async () =>
          (await current.getCompletedCount()) === 7 &&
          (await previous.getJobCountByTypes('failed', 'waiting', 'delayed', 'active')) === 0,
        'every job completed in the current queue, none left in the previous one',
      );
      // Each ran broken once, and fixed once: the interrupted move did not run it twice.
      const fixedRuns = runs.filter((r) => r.startsWith('fixed')).sort();
      expect(fixedRuns).toEqual(specs.map((j) => `fixed ${j.id}`).sort());
      expect(runs.filter((r) => r.startsWith('broken'))).toHaveLength(7);
    } finally {
      await Promise.all([broken.close(), worker.close(), previous.close(), current.close()]);
      connection.disconnect();
    }
  });

  // These move messages between SQS queues only: one Redis mode is enough.
  if (mode === 'single') {
    it('a dry run moves and deletes nothing, leaves nothing hidden, and lists exactly what would move', async () => {
      const s = await setup();
      const seeded = await seedDeadLetters(s.topology.dlqUrl, 60, 5000);
      const before = await contents(s.topology.dlqUrl);

      const { code, io, summary } = await replay(s, {
        dryRun: true,
        filter: filter({ error: 'decode', decodable: true }),
      });

      expect(code).toBe(0);
      const wouldMove = io.lines().filter((l) => l.outcome === 'wouldMove');
      // decode errors that decode now: the bounces and opens (the undecodable ones are left out).
      const expected = seeded.filter((l) => l.kind === 'bounce' || l.kind === 'open');
      expect(wouldMove.map((l) => l.kind).sort()).toEqual(expected.map((l) => l.kind).sort());
      expect(summary).toMatchObject({
        dryRun: true,
        totals: { wouldMove: 24, kept: 36, moved: 0 },
      });
      expect(await queueDepth(servers.sqs, s.topology.dlqUrl)).toEqual({
        visible: 60,
        inFlight: 0,
      });
      expect(await queueDepth(servers.sqs, s.topology.queueUrl)).toEqual({
        visible: 0,
        inFlight: 0,
      });
      expect(await contents(s.topology.dlqUrl)).toEqual(expect.arrayContaining(before));
      expect(await contents(s.topology.dlqUrl)).toHaveLength(before.length);

      // The human summary says the same in words.
      const human = captureIo();
      expect(
        await replayDlqCommand(
          s.env,
          replayOptions({ dryRun: true, json: false, filter: filter({ kind: 'bounce' }) }),
          context(human),
        ),
      ).toBe(0);
      expect(human.out).toMatch(/^would move {2}\S+ {2}bounce {2}decode\/unsupported {2}\d+s$/m);
      expect(human.out).toContain(`Dry run: 12 of 60 messages in ${s.topology.dlqUrl} would move`);
      expect(human.out).toMatch(/^ {2}bounce +decode\/unsupported +12 +0$/m);
      expect(human.out).toMatch(/^ {2}total +12 +48$/m);
      expect(await queueDepth(servers.sqs, s.topology.dlqUrl)).toEqual({
        visible: 60,
        inFlight: 0,
      });
    });

    it('dlq stats counts by kind and error and consumes nothing', async () => {
      const s = await setup();
      await seedDeadLetters(s.topology.dlqUrl, 50, 6000);
      const io = captureIo();
      const code = await dlqStatsCommand(
        s.env,
        { json: true, visibilityTimeoutSeconds: 30 },
        context(io),
      );
      expect(code).toBe(0);
      const [stats] = io.lines();
      expect(stats).toMatchObject({
        type: 'stats',
        messages: 50,
        complete: true,
        inFlightAtStart: 0,
      });
      const counts = Object.fromEntries(
        (stats!.rows as { kind: string; error: string; messages: number }[]).map((r) => [
          `${r.kind} ${r.error}`,
          r.messages,
        ]),
      );
      expect(counts).toEqual({
        'bounce decode/unsupported': 10,
        'complaint redrive': 10,
        'delivery signature/untrusted': 10,
        'open decode/unsupported': 10,
        'undecodable decode/notJson': 5,
        'undecodable decode/invalid': 5,
      });
      expect(await queueDepth(servers.sqs, s.topology.dlqUrl)).toEqual({
        visible: 50,
        inFlight: 0,
      });

      const text = captureIo();
      expect(
        await dlqStatsCommand(s.env, { json: false, visibilityTimeoutSeconds: 30 }, context(text)),
      ).toBe(0);
      expect(text.out).toContain(`50 messages in ${s.topology.dlqUrl}`);
      expect(text.out).toMatch(/^ {2}complaint +redrive +10 +\d+s$/m);
    });

    it('--max moves that many and stops; a stop signal finishes the batch in hand and releases the rest at once', async () => {
      const s = await setup();
      await seedDeadLetters(s.topology.dlqUrl, 100, 7000);

      const limited = await replay(s, { max: 25 });
      expect(limited.code).toBe(0);
      expect(limited.summary).toMatchObject({ end: 'max', totals: { moved: 25 } });
      expect(await queueDepth(servers.sqs, s.topology.queueUrl)).toEqual({
        visible: 25,
        inFlight: 0,
      });
      expect(await queueDepth(servers.sqs, s.topology.dlqUrl)).toEqual({
        visible: 75,
        inFlight: 0,
      });

      // Stop as soon as the first message is reported moved: its batch completes, nothing else moves.
      const stop = new AbortController();
      const io = captureIo((line) => {
        if (line.outcome === 'moved') stop.abort();
      });
      const code = await replayDlqCommand(s.env, replayOptions(), context(io, stop.signal));
      expect(code).toBe(75);
      const summary = io.lines().at(-1)!;
      expect(summary).toMatchObject({ end: 'stopped' });
      const moved = (summary.totals as { moved: number }).moved;
      expect(moved).toBeGreaterThanOrEqual(1);
      expect(moved).toBeLessThanOrEqual(10);
      expect(await queueDepth(servers.sqs, s.topology.dlqUrl)).toEqual({
        visible: 75 - moved,
        inFlight: 0,
      });
      expect(await queueDepth(servers.sqs, s.topology.queueUrl)).toEqual({
        visible: 25 + moved,
        inFlight: 0,
      });
    });

    it('deletes nothing the target did not accept: a refused send leaves every message in the DLQ', async () => {
      const s = await setup();
      await seedDeadLetters(s.topology.dlqUrl, 25, 8500);
      const outcomes: { outcome: string; detail: string | undefined }[] = [];
      const report = await moveDeadLetters({
        sqs: servers.sqs,
        from: s.topology.dlqUrl,
        to: `${s.topology.queueUrl}-gone`, // a queue that does not exist: every send fails
        runId: 'replay-refused',
        select: () => true,
        maxSelected: null,
        batchSize: 10,
        visibilityTimeoutSeconds: 30,
        waitTimeSeconds: 1,
        signal: new AbortController().signal,
        onOutcome: (_letter, outcome, detail) => outcomes.push({ outcome, detail }),
      });
      expect(report).toEqual({ end: 'empty', error: null, released: 25, releaseFailures: 0 });
      expect(outcomes).toHaveLength(25);
      expect(outcomes.every((o) => o.outcome === 'failed' && /exist/i.test(o.detail ?? ''))).toBe(
        true,
      );
      expect(await queueDepth(servers.sqs, s.topology.dlqUrl)).toEqual({
        visible: 25,
        inFlight: 0,
      });
    });

    it('refuses a target equal to the source, and --native where the endpoint lacks it, changing nothing', async () => {
      const s = await setup();
      await seedDeadLetters(s.topology.dlqUrl, 5, 8000);
      const same = captureIo();
      expect(
        await replayDlqCommand(s.env, replayOptions({ to: s.topology.dlqUrl }), context(same)),
      ).toBe(64);
      expect(same.err).toBe(
        `ses-worker replay-dlq: --from and --to are the same queue (${s.topology.dlqUrl})\n`,
      );

      const native = captureIo();
      expect(await replayDlqCommand(s.env, replayOptions({ native: true }), context(native))).toBe(
        69,
      );
      expect(native.err).toMatch(
        /^ses-worker replay-dlq: --native: this SQS endpoint does not support StartMessageMoveTask \(.+\); run without --native to move the messages in batches\n$/,
      );
      expect(native.out).toBe('');
      expect(await queueDepth(servers.sqs, s.topology.dlqUrl)).toEqual({ visible: 5, inFlight: 0 });

      const missing = captureIo();
      expect(
        await replayDlqCommand(
          { ...s.env, SQS_DLQ_URL: `${s.topology.dlqUrl}-missing` },
          replayOptions(),
          context(missing),
        ),
      ).toBe(69);
      expect(missing.err).toMatch(/^ses-worker replay-dlq: cannot read .+-missing or .+: .+\n$/);
    });
  }
});
