/**
 * The replay commands on the command line: `replay-dlq`, `replay-failed` and `dlq stats`.
 * Options are parsed here (a bad value is a usage error, exit 64); the commands get typed
 * options, so tests run them without a process. SIGINT/SIGTERM stop a run after the batch in
 * hand; a second signal exits at once (nothing is half-moved either way: see replayDlq.ts).
 */
import { isLeft } from 'fp-ts/Either';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { DEAD_LETTER_ERRORS, DEAD_LETTER_KINDS, parseReplayFilter } from '../../domain/deadLetters';
import { parseDuration } from '../../domain/duration';
import { EXIT, type ExitCode, type Io } from '../io';
import { dlqStatsCommand } from './dlqStats';
import type { ProgressOptions } from './progress';
import type { ReplayContext } from './replayContext';
import { replayDlqCommand } from './replayDlq';
import { REPLAYABLE_QUEUES, replayFailedCommand, type ReplayableQueue } from './replayFailed';

export function registerReplayCommands(program: Command, io: Io): void {
  program
    .command('replay-dlq')
    .description(
      'move dead letters back to the queue (send to the target, then delete from the DLQ); filters, dry run, rate limit, progress and a summary by kind and error',
    )
    .option('--from <url>', 'the dead-letter queue (default: SQS_DLQ_URL)', queueUrl)
    .option('--to <url>', 'the queue to move them to (default: SQS_QUEUE_URL)', queueUrl)
    .option('--kind <kinds>', `only these kinds, comma-separated: ${DEAD_LETTER_KINDS.join(', ')}`)
    .option(
      '--error <errors>',
      `only these errors, comma-separated: ${DEAD_LETTER_ERRORS.join(', ')} (redrive: no ses-worker error, moved by the queue's redrive policy)`,
    )
    .option('--older-than <duration>', 'only messages in the DLQ at least this long (90s, 2h, 7d)')
    .option('--newer-than <duration>', 'only messages in the DLQ for less than this long')
    .option('--decodable', 'only messages that decode with this version')
    .option('--max <n>', 'move at most N messages', positiveInteger)
    .option('--rate <n>', 'move at most N messages per second', positiveNumber)
    .option('--dry-run', 'move and delete nothing: list what would move, and summarise')
    .option('--json', 'print JSON lines: one per message examined, then a summary')
    .option(
      '--native',
      'let SQS move every message (StartMessageMoveTask; no filters) and report its progress',
    )
    .addOption(
      new Option(
        '--visibility-timeout <duration>',
        'how long examined messages stay hidden during the run; released at its end',
      )
        .argParser(durationSeconds)
        .default(600, '10m'),
    )
    .action(async (options: ReplayDlqFlags, command: Command) => {
      const filter = parseReplayFilter(options);
      if (isLeft(filter)) command.error(`error: ${filter.left}`, { exitCode: EXIT.usage });
      else {
        process.exitCode = await withSignals(io, 'ses-worker replay-dlq', (ctx) =>
          replayDlqCommand(
            process.env,
            {
              ...(options.from === undefined ? {} : { from: options.from }),
              ...(options.to === undefined ? {} : { to: options.to }),
              filter: filter.right,
              max: options.max ?? null,
              rate: options.rate ?? null,
              dryRun: options.dryRun === true,
              json: options.json === true,
              native: options.native === true,
              visibilityTimeoutSeconds: options.visibilityTimeout,
            },
            ctx,
          ),
        );
      }
    });

  program
    .command('replay-failed')
    .description(
      'retry the jobs in a BullMQ queue’s failed set (attempts reset, same ids), with progress and a summary by job and reason',
    )
    .addOption(
      new Option('--queue <queue>', 'the queue whose failed jobs to retry')
        .choices(REPLAYABLE_QUEUES)
        .makeOptionMandatory(),
    )
    .option('--max <n>', 'retry at most N jobs', positiveInteger)
    .option('--dry-run', 'retry nothing: list what would be retried, and summarise')
    .option('--json', 'print JSON lines: one per job, then a summary')
    .action(
      async (options: {
        queue: ReplayableQueue;
        max?: number;
        dryRun?: boolean;
        json?: boolean;
      }) => {
        process.exitCode = await withSignals(io, 'ses-worker replay-failed', (ctx) =>
          replayFailedCommand(
            process.env,
            {
              queue: options.queue,
              max: options.max ?? null,
              dryRun: options.dryRun === true,
              json: options.json === true,
            },
            ctx,
          ),
        );
      },
    );

  program
    .command('dlq')
    .description('inspect the dead-letter queue')
    .command('stats')
    .description(
      'count the messages in the DLQ by kind and error, without consuming them (each is hidden while counted, then made visible again)',
    )
    .option('--from <url>', 'the dead-letter queue (default: SQS_DLQ_URL)', queueUrl)
    .option('--json', 'print one JSON object')
    .addOption(
      new Option(
        '--visibility-timeout <duration>',
        'how long counted messages stay hidden at most; released at the end',
      )
        .argParser(durationSeconds)
        .default(60, '1m'),
    )
    .action(async (options: { from?: string; json?: boolean; visibilityTimeout: number }) => {
      process.exitCode = await withSignals(io, 'ses-worker dlq stats', (ctx) =>
        dlqStatsCommand(
          process.env,
          {
            ...(options.from === undefined ? {} : { from: options.from }),
            json: options.json === true,
            visibilityTimeoutSeconds: options.visibilityTimeout,
          },
          ctx,
        ),
      );
    });
}

interface ReplayDlqFlags {
  from?: string;
  to?: string;
  kind?: string;
  error?: string;
  olderThan?: string;
  newerThan?: string;
  decodable?: boolean;
  max?: number;
  rate?: number;
  dryRun?: boolean;
  json?: boolean;
  native?: boolean;
  visibilityTimeout: number;
}

/**
 * Runs a command with SIGINT/SIGTERM wired to its stop signal. The first signal lets it finish
 * the batch in hand; a second exits at once (75).
 */
async function withSignals(
  io: Io,
  label: string,
  run: (ctx: ReplayContext) => Promise<ExitCode>,
): Promise<ExitCode> {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) {
      io.stderr.write(`${label}: second signal: exiting now\n`);
      process.exit(EXIT.interrupted);
    }
    io.stderr.write(`${label}: stopping after the batch in hand (a second Ctrl-C exits at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await run({ io, signal: controller.signal, progress: terminalProgress() });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function terminalProgress(): ProgressOptions {
  return process.stderr.isTTY
    ? { mode: 'bar', stream: process.stderr, stdoutIsTTY: process.stdout.isTTY === true }
    : { mode: 'lines' };
}

function queueUrl(value: string): string {
  if (!URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol)) {
    throw new InvalidArgumentError('expected an http(s) queue URL.');
  }
  return value;
}

function positiveInteger(value: string): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected an integer ≥ 1.');
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new InvalidArgumentError('expected a number above 0.');
  }
  return n;
}

/** SQS visibility timeouts are whole seconds, 1 s to 12 h. */
function durationSeconds(value: string): number {
  const parsed = parseDuration(/^\d+$/.test(value.trim()) ? `${value.trim()}s` : value);
  if (isLeft(parsed)) throw new InvalidArgumentError(`${parsed.left}.`);
  const seconds = Math.ceil(parsed.right / 1000);
  if (seconds < 1 || seconds > 43_200) {
    throw new InvalidArgumentError('expected from 1s to 12h.');
  }
  return seconds;
}
