/**
 * `forward` jobs (inbound queue): one received message to one target. Reads the raw message
 * (the notification's content, or S3), rewrites its headers, and sends it over SMTP with
 * FORWARD_FROM as the envelope sender.
 *
 * Outcomes: `forwarded`; `loop` and `tooLarge` complete the job without sending; `missing`
 * (no S3 object), `encrypted`, `malformed` and `rejected` (SMTP 5xx) fail it for good (UnrecoverableError,
 * the reason on the job for `replay-failed`); anything else — SMTP 4xx, connection errors, S3
 * or Redis trouble — throws, and BullMQ retries with backoff until JOB_ATTEMPTS runs out
 * (`failed`).
 *
 * Each copy is sent once as far as this side can know: the server's 250 is recorded in Redis at
 * once (`sentCopies`) and checked before every send, so a job that runs again after its send —
 * its lock lapsed while the process lived, or it died before BullMQ recorded completion — does
 * not send again. SMTP and Redis share no commit: a process killed between the 250 and that
 * record (well under a millisecond) still sends the copy twice.
 */
import { UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import { MalformedMessageError, rewriteTopHeaders } from '../../adapters/mail/rewrite';
import type { Metrics } from '../../adapters/metrics/registry';
import {
  rewriteHeaders,
  type LoopReason,
  type RewriteContext,
} from '../../domain/forwarding/headers';
import type { ForwardOutcome } from '../../domain/forwarding/policy';
import type { MailSender, SentCopies, StoredMessages } from '../../domain/forwarding/ports';
import { describeSmtpFailure, isPermanentSmtpFailure } from '../../domain/forwarding/smtp';
import type { ForwardJob, RawMessageSource } from '../../domain/jobs';
import type { JobSink } from '../../domain/ports';
import type { ForwardingConfig } from '../forwardingConfig';
import { loggableError } from '../../domain/redact';

/** What forwarding runs on; built by the composition root (worker/main.ts). */
export interface Forwarder {
  readonly config: ForwardingConfig;
  /** Adds `forward` jobs to the inbound queue. */
  readonly fanOut: JobSink;
  readonly storedMessages: StoredMessages;
  readonly sender: MailSender;
  readonly sentCopies: SentCopies;
}

/** The parts of a BullMQ job a processor looks at (BullMQ's `Job` has them). */
export interface JobContext {
  /** BullMQ's job id: `inbound/forward/<messageId>/<target>`, one per copy. */
  readonly id?: string;
  readonly name: string;
  readonly attemptsMade: number;
  readonly opts: { readonly attempts?: number };
  /** Appends a line to the job's log in Redis (kept with the job, not in the process logs). */
  log(row: string): Promise<unknown>;
  /** Replaces the job's data in Redis (BullMQ's `Job.updateData`). */
  updateData(data: unknown): Promise<unknown>;
}

/**
 * Drops a job's message content once nothing needs it, so a completed job keeps only its id
 * for the dedupe window. Best effort: the work is done, and a failed drop only keeps the
 * content until the job is removed.
 */
export async function releaseContent(
  context: JobContext,
  data: unknown,
  log: Logger,
  sesMessageId: string,
): Promise<void> {
  try {
    await context.updateData(data);
  } catch (error) {
    log.warn({ sesMessageId, err: loggableError(error) }, 'could not release the message content');
  }
}

export interface ForwardResult {
  readonly outcome: Extract<ForwardOutcome, 'forwarded' | 'loop' | 'tooLarge'>;
  readonly bytes?: number;
  /** The server's final reply, for the job's return value. */
  readonly response?: string;
  /** The copy had been sent by an earlier run of this job: nothing was sent this time. */
  readonly alreadySent?: boolean;
}

type Read =
  | { readonly kind: 'found'; readonly bytes: Uint8Array }
  | { readonly kind: 'tooLarge'; readonly size: number };

export function makeForwardProcessor(forwarder: Forwarder, metrics: Metrics, log: Logger) {
  const { config } = forwarder;

  const permanent = (outcome: ForwardOutcome, sesMessageId: string, reason: string) => {
    metrics.inboundForwarded.inc({ outcome });
    log.warn({ sesMessageId, outcome, reason }, 'forward failed for good');
    return new UnrecoverableError(reason);
  };

  const readRaw = async (source: RawMessageSource, sesMessageId: string): Promise<Read> => {
    if (source.type === 'released') {
      throw permanent('missing', sesMessageId, 'the message content was released after sending');
    }
    if (source.type === 'content') {
      const bytes = Buffer.from(source.content, source.encoding === 'BASE64' ? 'base64' : 'utf8');
      return bytes.length > config.maxBytes
        ? { kind: 'tooLarge', size: bytes.length }
        : { kind: 'found', bytes };
    }
    const read = await forwarder.storedMessages.read(source, config.maxBytes);
    switch (read.kind) {
      case 'missing':
        throw permanent('missing', sesMessageId, `S3 object not found (${read.reason})`);
      case 'encrypted':
        throw permanent(
          'encrypted',
          sesMessageId,
          'S3 object is encrypted client-side (a receipt rule KMS key); ses-worker cannot decrypt it',
        );
      case 'found':
      case 'tooLarge':
        return read;
    }
  };

  const done = (job: ForwardJob, result: ForwardResult, extra: Record<string, unknown> = {}) => {
    metrics.inboundForwarded.inc({ outcome: result.outcome });
    const fields = { sesMessageId: job.sesMessageId, outcome: result.outcome, ...extra };
    if (result.outcome === 'forwarded') log.info(fields, 'received mail forwarded');
    else log.warn(fields, 'received mail not forwarded');
    return result;
  };

  const releaseSource = (job: ForwardJob, context: JobContext): Promise<void> =>
    job.source.type === 'content'
      ? releaseContent(context, { ...job, source: { type: 'released' } }, log, job.sesMessageId)
      : Promise.resolve();

  const forward = async (job: ForwardJob, context: JobContext): Promise<ForwardResult> => {
    const copyId = context.id ?? `${job.sesMessageId}/${job.target}`;
    const earlier = await forwarder.sentCopies.sentBefore(copyId);
    if (earlier !== null) {
      // Counted when it was sent; this run only finishes the job.
      log.info({ sesMessageId: job.sesMessageId }, 'forward already sent by an earlier run');
      await releaseSource(job, context);
      return { outcome: 'forwarded', response: earlier, alreadySent: true };
    }
    const raw = await readRaw(job.source, job.sesMessageId);
    if (raw.kind === 'tooLarge') {
      return done(job, { outcome: 'tooLarge', bytes: raw.size }, { maxBytes: config.maxBytes });
    }

    const ctx: RewriteContext = {
      forwardFrom: config.from,
      target: job.target,
      recipients: job.recipients,
      sesMessageId: job.sesMessageId,
      mailFrom: job.mailFrom,
      subjectTags: job.subjectTags,
    };
    let rewritten;
    try {
      rewritten = await rewriteTopHeaders<LoopReason>(
        raw.bytes,
        (fields) => {
          const decision = rewriteHeaders(fields, ctx);
          return decision.kind === 'loop'
            ? { abort: decision.reason }
            : { fields: decision.fields };
        },
        // No header block can be larger than the whole message may be.
        { maxHeadBytes: config.maxBytes },
      );
    } catch (error) {
      if (!(error instanceof MalformedMessageError)) throw error;
      throw permanent(
        'malformed',
        job.sesMessageId,
        `cannot rewrite the message: ${error.message}`,
      );
    }
    if (rewritten.kind === 'aborted') {
      return done(job, { outcome: 'loop' }, { reason: rewritten.reason });
    }
    const message = rewritten.message;
    if (message.length > config.maxBytes) {
      return done(
        job,
        { outcome: 'tooLarge', bytes: message.length },
        { maxBytes: config.maxBytes },
      );
    }

    const sent = await forwarder.sender.send({ from: config.from, to: job.target, message });
    if (sent.ok) {
      try {
        await forwarder.sentCopies.record(copyId, sent.response);
        // Only a recorded copy lets go of the message: a run after an unrecorded send needs it.
        await releaseSource(job, context);
      } catch (error) {
        // The copy is out; failing the job now would only send it again.
        log.warn(
          { sesMessageId: job.sesMessageId, err: loggableError(error) },
          'forward sent, but not recorded as sent',
        );
      }
      return done(
        job,
        { outcome: 'forwarded', bytes: message.length, response: sent.response },
        { bytes: message.length, subjectTags: job.subjectTags },
      );
    }
    const reason = describeSmtpFailure(sent.failure);
    // The full reply, which may name the target, stays with the job; logs get the redacted one.
    await context.log(`SMTP failure: ${sent.failure.response ?? sent.failure.message}`);
    if (isPermanentSmtpFailure(sent.failure)) throw permanent('rejected', job.sesMessageId, reason);
    throw new Error(reason);
  };

  return async (job: ForwardJob, context: JobContext): Promise<ForwardResult> => {
    try {
      return await forward(job, context);
    } catch (error) {
      const lastAttempt = context.attemptsMade + 1 >= (context.opts.attempts ?? 1);
      if (!(error instanceof UnrecoverableError) && lastAttempt) {
        metrics.inboundForwarded.inc({ outcome: 'failed' });
      }
      throw error;
    }
  };
}
