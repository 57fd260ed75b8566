/**
 * `ses-worker replay-dlq`: moves dead letters back to the queue the worker drains, once a fix
 * makes them processable. Receive from the DLQ, send to the target, delete from the DLQ only
 * after the send succeeded (adapters/sqs/deadLetterMover.ts): a message is never in neither
 * queue, and one moved twice does its work once (job ids). Filters choose what moves; the rest
 * stays. `--native` hands the whole move to SQS (StartMessageMoveTask) instead.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { SQSClient } from '@aws-sdk/client-sqs';
import {
  deadLetterDepth,
  moveDeadLetters,
  type DeadLetter,
  type MoveReport,
} from '../../adapters/sqs/deadLetterMover';
import {
  cancelMoveTask,
  moveTaskReport,
  MoveTaskUnsupported,
  queueArn,
  startMoveTask,
} from '../../adapters/sqs/messageMoveTask';
import {
  classifyDeadLetter,
  describeFilter,
  errorLabel,
  isUnfiltered,
  makeTally,
  matchesFilter,
  moveTaskState,
  receiveBatchSize,
  REPLAY_OUTCOMES,
  type DeadLetterClass,
  type MoveTaskReport,
  type ReplayFilter,
  type ReplayOutcome,
  type Tally,
} from '../../domain/deadLetters';
import { formatDuration, paceDelayMs } from '../../domain/duration';
import { EXIT, type ExitCode } from '../io';
import { makeProgress } from './progress';
import { configOrExit, describeError, sqsClientFor, type ReplayContext } from './replayContext';
import { count, jsonLine, noun, tallyTable, type TallyColumn } from './replayOutput';

export interface ReplayDlqOptions {
  /** The DLQ; default SQS_DLQ_URL. */
  readonly from?: string;
  /** Where to move; default SQS_QUEUE_URL. */
  readonly to?: string;
  readonly filter: ReplayFilter;
  readonly max: number | null;
  /** Messages per second, at most. */
  readonly rate: number | null;
  readonly dryRun: boolean;
  readonly json: boolean;
  readonly native: boolean;
  /** How long the messages a run examines stay hidden before it releases them. */
  readonly visibilityTimeoutSeconds: number;
}

const LABEL = 'ses-worker replay-dlq';
/** ListMessageMoveTasks is eventually consistent: a task just started may not be listed yet. */
const MAX_UNLISTED_POLLS = 5;

const COLUMNS: readonly TallyColumn<ReplayOutcome>[] = [
  { outcome: 'moved', label: 'moved', always: false },
  { outcome: 'wouldMove', label: 'would move', always: false },
  { outcome: 'kept', label: 'stay', always: true },
  { outcome: 'returned', label: 'came back', always: false },
  { outcome: 'failed', label: 'failed', always: false },
  { outcome: 'copied', label: 'in both', always: false },
];

export async function replayDlqCommand(
  env: NodeJS.ProcessEnv,
  options: ReplayDlqOptions,
  ctx: ReplayContext,
): Promise<ExitCode> {
  const { io } = ctx;
  const config = configOrExit(env, io);
  if (typeof config === 'number') return config;
  const from = options.from ?? config.sqs.dlqUrl;
  const to = options.to ?? config.sqs.queueUrl;
  if (from === null) {
    io.stderr.write(
      'ses-worker: configuration: SQS_DLQ_URL: expected the dead-letter queue to replay (or --from URL)\n',
    );
    return EXIT.config;
  }
  if (to === null) {
    io.stderr.write(
      'ses-worker: configuration: SQS_QUEUE_URL: expected the queue to move dead letters to (or --to URL)\n',
    );
    return EXIT.config;
  }
  if (from === to) {
    io.stderr.write(`${LABEL}: --from and --to are the same queue (${from})\n`);
    return EXIT.usage;
  }
  if (options.native && (!isUnfiltered(options.filter) || options.max !== null || options.dryRun)) {
    io.stderr.write(
      `${LABEL}: --native moves every message: it cannot be combined with --kind, --error, --older-than, --newer-than, --decodable, --max or --dry-run\n`,
    );
    return EXIT.usage;
  }

  const sqs = sqsClientFor(config, from, ctx);
  try {
    let depth: { visible: number; inFlight: number };
    try {
      [depth] = await Promise.all([deadLetterDepth(sqs, from), deadLetterDepth(sqs, to)]);
    } catch (error) {
      io.stderr.write(`${LABEL}: cannot read ${from} or ${to}: ${describeError(error)}\n`);
      return EXIT.unavailable;
    }
    return options.native
      ? await nativeMove(sqs, from, to, options, ctx, depth.visible)
      : await move(sqs, from, to, options, ctx, depth.visible);
  } finally {
    sqs.destroy();
  }
}

async function move(
  sqs: SQSClient,
  from: string,
  to: string,
  options: ReplayDlqOptions,
  ctx: ReplayContext,
  expected: number,
): Promise<ExitCode> {
  const { io } = ctx;
  const now = ctx.now ?? Date.now;
  const startedAt = now();
  const out = (text: string) => io.stdout.write(text);
  const tally = makeTally(REPLAY_OUTCOMES);
  const progress = makeProgress(LABEL, ctx.progress, io, options.dryRun || options.json, now);

  // Classified once: `select` sees a message first, its outcome comes later.
  const classes = new WeakMap<DeadLetter, DeadLetterClass>();
  const classOf = (letter: DeadLetter): DeadLetterClass => {
    let c = classes.get(letter);
    if (c === undefined) {
      c = classifyDeadLetter(letter, now());
      classes.set(letter, c);
    }
    return c;
  };

  let sent = 0;
  const beforeSend = async (batch: number): Promise<boolean> => {
    if (options.rate !== null) {
      const wait = paceDelayMs(options.rate, startedAt, sent, now());
      if (wait > 0 && !(await sleep(wait, ctx.signal))) return false;
    }
    sent += batch;
    return true;
  };

  const report: MoveReport = await moveDeadLetters({
    sqs,
    from,
    to: options.dryRun ? null : to,
    runId: `replay-${new Date(startedAt).toISOString()}-${randomBytes(4).toString('hex')}`,
    select: (letter) => matchesFilter(options.filter, classOf(letter)),
    maxSelected: options.max,
    batchSize: receiveBatchSize(options.dryRun ? null : options.rate, null),
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
    waitTimeSeconds: ctx.waitTimeSeconds ?? 1,
    signal: ctx.signal,
    beforeSend,
    onOutcome: (letter, outcome, detail) => {
      const c = classOf(letter);
      tally.add(c.kind, errorLabel(c), outcome, c.ageMs);
      if (options.json) {
        out(jsonLine(messageLine(letter, c, outcome, detail)));
      } else if (outcome === 'wouldMove') {
        out(
          `would move  ${letter.messageId}  ${c.kind}  ${errorLabel(c)}  ${c.ageMs === null ? '?' : formatDuration(c.ageMs)}\n`,
        );
      } else if (outcome === 'failed' || outcome === 'copied') {
        io.stderr.write(
          `${LABEL}: ${letter.messageId}: ${outcome === 'failed' ? 'not sent, stays in the DLQ' : 'sent but not deleted from the DLQ, so in both'}: ${detail ?? ''}\n`,
        );
      }
      progress.update(tally.count(), expected, status(tally, options.dryRun));
    },
  });
  progress.stop();

  const elapsedMs = now() - startedAt;
  if (options.json) {
    out(jsonLine(summaryLine(tally, report, options, from, to, elapsedMs)));
  } else {
    out(summaryText(tally, report, options, from, to, elapsedMs));
  }
  if (report.end === 'error') {
    io.stderr.write(`${LABEL}: receiving from ${from} failed: ${report.error}\n`);
    return EXIT.unavailable;
  }
  if (report.end === 'stopped') return EXIT.interrupted;
  if (tally.total('failed') > 0 || tally.total('copied') > 0) return EXIT.unavailable;
  return EXIT.ok;
}

function status(tally: Tally<ReplayOutcome>, dryRun: boolean): string {
  const moved = dryRun ? tally.total('wouldMove') : tally.total('moved');
  const problems = tally.total('failed') + tally.total('copied');
  return `${dryRun ? 'would move' : 'moved'} ${count(moved)}, stay ${count(tally.total('kept') + tally.total('returned'))}${problems > 0 ? `, problems ${count(problems)}` : ''}`;
}

function messageLine(
  letter: DeadLetter,
  c: DeadLetterClass,
  outcome: ReplayOutcome,
  detail: string | undefined,
) {
  return {
    type: 'message',
    outcome,
    messageId: letter.messageId,
    kind: c.kind,
    eventId: c.eventId,
    error: c.error,
    reason: c.reason,
    ...(c.decodeReason === null ? {} : { decodeReason: c.decodeReason }),
    ageSeconds: c.ageMs === null ? null : Math.floor(c.ageMs / 1000),
    sentAt: letter.sentAtMs === null ? null : new Date(letter.sentAtMs).toISOString(),
    ...(detail === undefined ? {} : { detail }),
  };
}

function summaryLine(
  tally: Tally<ReplayOutcome>,
  report: MoveReport,
  options: ReplayDlqOptions,
  from: string,
  to: string,
  elapsedMs: number,
) {
  return {
    type: 'summary',
    dryRun: options.dryRun,
    from,
    to,
    filter: describeFilter(options.filter, formatDuration),
    end: report.end,
    seconds: elapsedMs / 1000,
    examined: tally.count(),
    totals: Object.fromEntries(REPLAY_OUTCOMES.map((o) => [o, tally.total(o)])),
    rows: tally.rows().map((row) => ({ kind: row.group, error: row.detail, ...row.counts })),
    released: report.released,
    releaseFailures: report.releaseFailures,
  };
}

function summaryText(
  tally: Tally<ReplayOutcome>,
  report: MoveReport,
  options: ReplayDlqOptions,
  from: string,
  to: string,
  elapsedMs: number,
): string {
  const lines: string[] = [];
  const examined = tally.count();
  const filter = describeFilter(options.filter, formatDuration);
  const stay = examined - tally.total('moved');
  lines.push(
    options.dryRun
      ? `Dry run: ${count(tally.total('wouldMove'))} of ${count(examined)} ${noun(examined, 'message')} in ${from} would move to ${to} (${filter}); nothing was moved or deleted.\n`
      : `Moved ${count(tally.total('moved'))} of ${count(examined)} ${noun(examined, 'message')} from ${from} to ${to} in ${formatDuration(elapsedMs)} (${filter}); ${count(stay)} stay in the DLQ.\n`,
  );
  if (examined > 0) lines.push(tallyTable(tally, ['kind', 'error'], COLUMNS));
  const returned = tally.total('returned');
  if (returned > 0) {
    lines.push(
      `${count(returned)} came back to the DLQ during this run (moved, then dead-lettered again): not moved twice.\n`,
    );
  }
  if (tally.total('failed') > 0) {
    lines.push(
      `${count(tally.total('failed'))} could not be sent to ${to}: they stay in the DLQ (errors above).\n`,
    );
  }
  if (tally.total('copied') > 0) {
    lines.push(
      `${count(tally.total('copied'))} were sent but could not be deleted from the DLQ: they are in both queues; replaying them again does no work twice (job ids).\n`,
    );
  }
  if (report.end === 'max') lines.push(`Stopped at --max ${options.max}.\n`);
  if (report.end === 'stopped') {
    lines.push('Stopped by a signal: the messages not examined yet stay in the DLQ.\n');
  }
  if (report.releaseFailures > 0) {
    lines.push(
      `${count(report.releaseFailures)} examined messages could not be made visible again: they stay hidden in the DLQ for up to ${formatDuration(options.visibilityTimeoutSeconds * 1000)}.\n`,
    );
  }
  return lines.join('');
}

/** Resolves true after `ms`, or false at once when the run is stopped meanwhile. */
async function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  try {
    await delay(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/**
 * `--native`: SQS moves every message itself (attributes unchanged) while this reports its
 * progress. Ctrl-C cancels the task: what SQS moved stays moved, the rest stays in the DLQ.
 */
async function nativeMove(
  sqs: SQSClient,
  from: string,
  to: string,
  options: ReplayDlqOptions,
  ctx: ReplayContext,
  expected: number,
): Promise<ExitCode> {
  const { io } = ctx;
  const now = ctx.now ?? Date.now;
  const startedAt = now();
  let sourceArn: string;
  let handle: string;
  try {
    const [source, destination] = await Promise.all([queueArn(sqs, from), queueArn(sqs, to)]);
    sourceArn = source;
    handle = await startMoveTask(sqs, {
      sourceArn,
      destinationArn: destination,
      maxPerSecond: options.rate,
    });
  } catch (error) {
    const why =
      error instanceof MoveTaskUnsupported
        ? `${error.message}; run without --native to move the messages in batches`
        : `could not start a message move task: ${describeError(error)}`;
    io.stderr.write(`${LABEL}: --native: ${why}\n`);
    return EXIT.unavailable;
  }

  const progress = makeProgress(LABEL, ctx.progress, io, false, now);
  let cancelled = false;
  let last: MoveTaskReport;
  try {
    for (let unlisted = 0; ;) {
      if (ctx.signal.aborted && !cancelled) {
        cancelled = true;
        await cancelMoveTask(sqs, handle);
      }
      const report = await moveTaskReport(sqs, sourceArn);
      if (report === null) {
        if (++unlisted >= MAX_UNLISTED_POLLS) throw new Error('SQS lists no move task for the DLQ');
      } else {
        progress.update(report.moved, report.toMove ?? expected, `SQS task ${report.status}`);
        if (moveTaskState(report) !== 'running') {
          last = report;
          break;
        }
      }
      await sleep(ctx.nativePollMs ?? 2000, ctx.signal);
    }
  } catch (error) {
    progress.stop();
    io.stderr.write(`${LABEL}: --native: following the task failed: ${describeError(error)}\n`);
    return EXIT.unavailable;
  }
  progress.stop();

  const state = moveTaskState(last);
  const elapsedMs = now() - startedAt;
  if (options.json) {
    io.stdout.write(
      jsonLine({
        type: 'summary',
        native: true,
        from,
        to,
        status: last.status,
        moved: last.moved,
        toMove: last.toMove,
        failureReason: last.failureReason,
        seconds: elapsedMs / 1000,
      }),
    );
  } else {
    io.stdout.write(
      `SQS moved ${count(last.moved)}${last.toMove === null ? '' : ` of ${count(last.toMove)}`} ${noun(last.toMove ?? last.moved, 'message')} from ${from} to ${to} in ${formatDuration(elapsedMs)}: task ${last.status}${last.failureReason === null ? '' : ` (${last.failureReason})`}.\n`,
    );
  }
  if (state === 'completed') return EXIT.ok;
  return state === 'cancelled' && cancelled ? EXIT.interrupted : EXIT.unavailable;
}
