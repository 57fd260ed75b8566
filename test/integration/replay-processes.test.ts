/**
 * `ses-worker replay-dlq` as a real process (the built CLI, dist/): SIGKILL in the middle of a
 * move loses nothing and a second replay then does each job once; SIGINT stops cleanly after
 * the batch in hand; `--native` on an emulator without it fails in one line; on a terminal the
 * progress is a bar.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  ChangeMessageVisibilityBatchCommand,
  SendMessageBatchCommand,
  type Message,
} from '@aws-sdk/client-sqs';
import { isRight } from 'fp-ts/Either';
import pino from 'pino';
import { createSesTopology, type SesTopology } from '../../adapters/emulator/topology';
import { decodeSqsBody } from '../../domain/decode';
import { NO_FILTER } from '../../domain/deadLetters';
import { eventId } from '../../domain/routing';
import { loadConfig } from '../../worker/config';
import { replayDlqCommand } from '../../worker/commands/replayDlq';
import { startWorker, type RunningWorker } from '../../worker/main';
import { eventually } from '../support/await';
import { useServersOn, topologyEnv, type TestServersOn } from '../support/environment';
import { REDIS_MODES } from '../support/redisModes';
import { expectedJobIds, syntheticNotification } from '../support/notifications';
import { queueWork, sameWork } from '../support/queueWork';
import { sdkClientConfig } from '../support/servers';
import { drainVisible, queueDepth } from '../support/sqs';
import { CLI } from '../support/workerProcess';

/** The servers of the suite running now (each Redis mode's suite starts its own). */
let servers: TestServersOn;
let runs = 0;
const children: ChildProcess[] = [];
const workers: RunningWorker[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.all(workers.splice(0).map((w) => w.stop()));
});

interface Setup {
  readonly topology: SesTopology;
  readonly prefix: string;
  readonly env: Record<string, string>;
}

async function setup(): Promise<Setup> {
  runs++;
  const topology = await createSesTopology(servers.sqs, servers.sns, {
    name: `replay-proc-${runs}`,
  });
  const prefix = `{replay-proc-${runs}}`;
  return {
    topology,
    prefix,
    env: topologyEnv(servers, topology, prefix),
  };
}

/** Distinct bodies: valid events of every synthetic kind, and every tenth one undecodable. */
const bodyAt = (i: number): string =>
  i % 10 === 9 ? `undecodable ${i}` : syntheticNotification(i);

async function seed(dlqUrl: string, bodies: readonly string[]): Promise<void> {
  const batches: string[][] = [];
  for (let i = 0; i < bodies.length; i += 10) batches.push(bodies.slice(i, i + 10));
  await Promise.all(
    batches.map((batch) =>
      servers.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: dlqUrl,
          Entries: batch.map((MessageBody, j) => ({ Id: String(j), MessageBody })),
        }),
      ),
    ),
  );
}

/**
 * Every visible body on a queue, read and made visible again. (Hidden ones are not: the
 * emulator, like SQS, returns an expired message to the queue only when it is next asked.)
 */
async function bodiesOn(queueUrl: string): Promise<string[]> {
  const messages = await drainVisible(servers.sqs, queueUrl, 60);
  await release(queueUrl, messages);
  return messages.map((m) => m.Body!);
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

interface CliProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<number | NodeJS.Signals>;
  stdout(): string;
  stderr(): string;
  lines(): Record<string, unknown>[];
}

function spawnCli(args: readonly string[], env: Record<string, string>): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: cliEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return {
    child,
    exited: new Promise((done) => child.on('exit', (code, signal) => done(code ?? signal ?? -1))),
    stdout: () => stdout,
    stderr: () => stderr,
    lines: () =>
      stdout
        .split('\n')
        .filter((l) => l.startsWith('{') && l.endsWith('}'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

function cliEnv(env: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL: servers.emulator.endpoint,
    ...env,
  };
}

const moved = (cli: CliProcess) => cli.lines().filter((l) => l.outcome === 'moved');

async function runWorker(s: Setup): Promise<RunningWorker> {
  const { endpoint, credentials } = sdkClientConfig(servers.emulator);
  const worker = await startWorker({
    config: loadConfig({
      ...s.env,
      HTTP_PORT: '0',
      SQS_WAIT_TIME_SECONDS: '1',
      SNS_VERIFY_SIGNATURES: 'false',
    }),
    log: pino({ level: 'silent' }),
    sqsEndpoint: { endpoint, credentials },
  });
  workers.push(worker);
  return worker;
}
describe.each(REDIS_MODES)('on %s Redis', (mode) => {
  const modeServers = useServersOn(mode);
  beforeAll(() => {
    servers = modeServers;
  });

  it('SIGKILL in the middle of a move loses nothing; replaying again, then processing, does each job once', async () => {
    const s = await setup();
    const bodies = Array.from({ length: 300 }, (_, i) => bodyAt(40_000 + i));
    await seed(s.topology.dlqUrl, bodies);

    // Paced, so that the kill lands in the middle; examined messages come back 3 s after it.
    const cli = spawnCli(
      ['replay-dlq', '--json', '--rate', '60', '--visibility-timeout', '3s'],
      s.env,
    );
    await eventually(() => Promise.resolve(moved(cli).length >= 40), '40 messages moved', 30_000);
    cli.child.kill('SIGKILL');
    expect(await cli.exited).toBe('SIGKILL');
    const movedBeforeKill = moved(cli).length;
    expect(movedBeforeKill).toBeLessThan(bodies.length); // it was stopped mid-way

    // Every body is in the DLQ or the queue, possibly both, never neither. First wait for the
    // messages the killed run held hidden to come back (3 s); the queue is read once only, since
    // every receive counts towards its redrive policy's maxReceiveCount.
    const inDlq = await eventually(
      async () => {
        const dlq = await bodiesOn(s.topology.dlqUrl);
        return (await queueDepth(servers.sqs, s.topology.dlqUrl)).inFlight === 0 ? dlq : undefined;
      },
      'the DLQ with nothing hidden',
      30_000,
    );
    const inQueue = await bodiesOn(s.topology.queueUrl);
    const somewhere = new Set([...inDlq, ...inQueue]);
    expect(bodies.filter((b) => !somewhere.has(b))).toEqual([]);
    expect(inQueue.length).toBeGreaterThanOrEqual(movedBeforeKill);
    expect(inDlq.length + inQueue.length).toBeGreaterThanOrEqual(bodies.length);

    // A second replay moves the rest (and any copy the kill left in both queues).
    const { endpoint, credentials } = sdkClientConfig(servers.emulator);
    const out: string[] = [];
    const code = await replayDlqCommand(
      s.env,
      {
        filter: NO_FILTER,
        max: null,
        rate: null,
        dryRun: false,
        json: true,
        native: false,
        visibilityTimeoutSeconds: 60,
      },
      {
        io: {
          stdout: { write: (c: string) => out.push(c) },
          stderr: { write: (c: string) => out.push(c) },
          stdinIsTTY: false,
          readStdin: () => Promise.resolve(''),
        },
        signal: new AbortController().signal,
        progress: { mode: 'none' },
        sqsEndpoint: { endpoint, credentials },
      },
    );
    expect(code).toBe(0);
    expect(await queueDepth(servers.sqs, s.topology.dlqUrl)).toEqual({ visible: 0, inFlight: 0 });
    const queued = await bodiesOn(s.topology.queueUrl);
    expect(new Set(queued)).toEqual(new Set(bodies));

    // The worker: every job exactly once, every event counted once, whatever the duplicates.
    const decodable = bodies.filter((b) => isRight(decodeSqsBody(b)));
    const expected = expectedJobIds(decodable);
    const worker = await runWorker(s);
    await eventually(
      async () => {
        for (const [name, ids] of expected) {
          const work = await queueWork(servers.redis, s.prefix, name);
          sameWork(name, work.completed, ids);
          expect(work.pending).toBe(0);
        }
        return true;
      },
      'every job exactly once',
      30_000,
    );
    const distinctEvents = new Set(
      decodable.map((b) => {
        const decoded = decodeSqsBody(b);
        if (!isRight(decoded)) throw new Error('decodes');
        return eventId(decoded.right);
      }),
    ).size;
    await eventually(
      async () =>
        (await worker.metrics.sesEvents.get()).values.reduce((sum, v) => sum + v.value, 0) ===
        distinctEvents,
      'each event counted once',
      30_000,
    );
    // The undecodable ones are back in the DLQ, dead-lettered again by the worker.
    await eventually(
      async () => (await queueDepth(servers.sqs, s.topology.dlqUrl)).visible === 30,
      'the 30 undecodable bodies dead-lettered again',
      30_000,
    );
  });

  // These move messages between SQS queues only: one Redis mode is enough.
  if (mode === 'single') {
    it('SIGINT stops after the batch in hand: exit 75, a summary, nothing hidden, nothing duplicated', async () => {
      const s = await setup();
      const bodies = Array.from({ length: 100 }, (_, i) => bodyAt(50_000 + i));
      await seed(s.topology.dlqUrl, bodies);

      const cli = spawnCli(['replay-dlq', '--json', '--rate', '20'], s.env);
      await eventually(() => Promise.resolve(moved(cli).length >= 1), 'a message moved', 30_000);
      cli.child.kill('SIGINT');
      expect(await cli.exited).toBe(75);
      expect(cli.stderr()).toContain(
        'ses-worker replay-dlq: stopping after the batch in hand (a second Ctrl-C exits at once)',
      );
      const summary = cli.lines().at(-1)!;
      expect(summary).toMatchObject({ type: 'summary', end: 'stopped' });
      const movedCount = (summary.totals as { moved: number }).moved;
      expect(movedCount).toBe(moved(cli).length);
      expect(movedCount).toBeLessThan(bodies.length);

      // Released at once, not after the 10-minute visibility timeout; each message in one place.
      expect(await queueDepth(servers.sqs, s.topology.dlqUrl)).toEqual({
        visible: bodies.length - movedCount,
        inFlight: 0,
      });
      expect(await queueDepth(servers.sqs, s.topology.queueUrl)).toEqual({
        visible: movedCount,
        inFlight: 0,
      });
    });

    it('--native on an emulator without StartMessageMoveTask: one line, exit 69, nothing moved', async () => {
      const s = await setup();
      await seed(s.topology.dlqUrl, [bodyAt(60_000)]);
      const cli = spawnCli(['replay-dlq', '--native'], s.env);
      expect(await cli.exited).toBe(69);
      expect(cli.stdout()).toBe('');
      expect(cli.stderr()).toMatch(
        /^ses-worker replay-dlq: --native: this SQS endpoint does not support StartMessageMoveTask \(.+\); run without --native to move the messages in batches\n$/,
      );
      expect(await queueDepth(servers.sqs, s.topology.dlqUrl)).toEqual({ visible: 1, inFlight: 0 });
    });

    const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

    (hasScript ? it : it.skip)(
      'on a terminal, progress is a bar on stderr; the summary still goes to stdout',
      async () => {
        const s = await setup();
        await seed(
          s.topology.dlqUrl,
          Array.from({ length: 30 }, (_, i) => bodyAt(70_000 + i)),
        );
        // util-linux `script` gives the CLI a pseudo-terminal for both streams.
        const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} dlq stats`;
        // Not spawnSync: the emulator may run in this process and must go on answering.
        const terminal = spawn('script', ['-qec', command, '/dev/null'], {
          env: cliEnv(s.env),
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        children.push(terminal);
        let output = '';
        terminal.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
        const code = await new Promise((done) => terminal.on('exit', done));
        expect(code).toBe(0);
        expect(output).toMatch(/ses-worker dlq stats \[[█░]+\] 30\/30 \| counting/);
        expect(output).toContain(`30 messages in ${s.topology.dlqUrl}`);
        expect(await queueDepth(servers.sqs, s.topology.dlqUrl)).toEqual({
          visible: 30,
          inFlight: 0,
        });
      },
    );
  }
});
