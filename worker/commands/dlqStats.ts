/**
 * `ses-worker dlq stats`: what is in the DLQ, by kind (decoded with this version) and by the
 * error the worker recorded. It reads every visible message without consuming any: each stays
 * hidden while the count runs (`--visibility-timeout`) and is made visible again at the end.
 */
import { randomBytes } from 'node:crypto';
import { deadLetterDepth, moveDeadLetters } from '../../adapters/sqs/deadLetterMover';
import { classifyDeadLetter, errorLabel, makeTally } from '../../domain/deadLetters';
import { formatDuration } from '../../domain/duration';
import { EXIT, type ExitCode } from '../io';
import { makeProgress } from './progress';
import { configOrExit, describeError, sqsClientFor, type ReplayContext } from './replayContext';
import { count, jsonLine, noun, tallyTable } from './replayOutput';

export interface DlqStatsOptions {
  /** The DLQ; default SQS_DLQ_URL. */
  readonly from?: string;
  readonly json: boolean;
  readonly visibilityTimeoutSeconds: number;
}

const LABEL = 'ses-worker dlq stats';

export async function dlqStatsCommand(
  env: NodeJS.ProcessEnv,
  options: DlqStatsOptions,
  ctx: ReplayContext,
): Promise<ExitCode> {
  const { io } = ctx;
  const config = configOrExit(env, io);
  if (typeof config === 'number') return config;
  const from = options.from ?? config.sqs.dlqUrl;
  if (from === null) {
    io.stderr.write(
      'ses-worker: configuration: SQS_DLQ_URL: expected the dead-letter queue to count (or --from URL)\n',
    );
    return EXIT.config;
  }
  const now = ctx.now ?? Date.now;
  const sqs = sqsClientFor(config, from, ctx);
  try {
    let depth: { visible: number; inFlight: number };
    try {
      depth = await deadLetterDepth(sqs, from);
    } catch (error) {
      io.stderr.write(`${LABEL}: cannot read ${from}: ${describeError(error)}\n`);
      return EXIT.unavailable;
    }
    const tally = makeTally(['counted'] as const);
    const progress = makeProgress(LABEL, ctx.progress, io, false, now);
    let replayedBefore = 0;
    const report = await moveDeadLetters({
      sqs,
      from,
      to: null,
      runId: `stats-${randomBytes(4).toString('hex')}`,
      select: () => false,
      maxSelected: null,
      batchSize: 10,
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
      waitTimeSeconds: ctx.waitTimeSeconds ?? 1,
      signal: ctx.signal,
      onOutcome: (letter) => {
        const c = classifyDeadLetter(letter, now());
        tally.add(c.kind, errorLabel(c), 'counted', c.ageMs);
        if (letter.replayRun !== null) replayedBefore++;
        progress.update(tally.count(), depth.visible, 'counting');
      },
    });
    progress.stop();

    if (options.json) {
      io.stdout.write(
        jsonLine({
          type: 'stats',
          from,
          messages: tally.count(),
          inFlightAtStart: depth.inFlight,
          replayedBefore,
          complete: report.end === 'empty',
          rows: tally.rows().map((row) => ({
            kind: row.group,
            error: row.detail,
            messages: row.counts.counted,
            oldestSeconds: row.oldestMs === null ? null : Math.floor(row.oldestMs / 1000),
          })),
        }),
      );
    } else {
      io.stdout.write(`${count(tally.count())} ${noun(tally.count(), 'message')} in ${from}\n`);
      if (tally.count() > 0) {
        io.stdout.write(
          tallyTable(
            tally,
            ['kind', 'error'],
            [{ outcome: 'counted', label: 'messages', always: true }],
            {
              oldest: true,
            },
          ),
        );
      }
      if (replayedBefore > 0) {
        io.stdout.write(
          `${count(replayedBefore)} of them were replayed before and dead-lettered again.\n`,
        );
      }
      if (depth.inFlight > 0) {
        io.stdout.write(
          `${count(depth.inFlight)} more were in flight (received by someone else) when the count began, and are not counted.\n`,
        );
      }
      if (report.releaseFailures > 0) {
        io.stdout.write(
          `${count(report.releaseFailures)} could not be made visible again: they stay hidden for up to ${formatDuration(options.visibilityTimeoutSeconds * 1000)}.\n`,
        );
      }
    }
    if (report.end === 'error') {
      io.stderr.write(`${LABEL}: receiving from ${from} failed: ${report.error}\n`);
      return EXIT.unavailable;
    }
    return report.end === 'stopped' ? EXIT.interrupted : EXIT.ok;
  } finally {
    sqs.destroy();
  }
}
