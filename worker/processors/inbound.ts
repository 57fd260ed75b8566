/**
 * The inbound queue's processor. Two kinds of job, told apart by BullMQ job name:
 *
 * - `received` (one per message, from the ingest): without forwarding (FORWARD_RULES unset) the
 *   message is recorded in the log and counted. With it, the rules and the verdict policy
 *   (domain/forwarding/policy.ts) decide; the message is either dropped with a recorded
 *   outcome, or fanned out to one `forward` job per target, whose ids
 *   (`inbound/forward/<messageId>/<target>`) make a redelivered notification or a retried
 *   fan-out add nothing.
 * - `forward` (one per message and target): see ./forward.ts.
 */
import { UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import type { Metrics } from '../../adapters/metrics/registry';
import { planForwarding, type ForwardOutcome } from '../../domain/forwarding/policy';
import type { ForwardJob, InboundJob } from '../../domain/jobs';
import {
  makeForwardProcessor,
  releaseContent,
  type ForwardResult,
  type Forwarder,
  type JobContext,
} from './forward';

export interface InboundProcessorDeps {
  readonly metrics: Metrics;
  readonly log: Logger;
  /** Null while forwarding is off (FORWARD_RULES unset). */
  readonly forwarder: Forwarder | null;
}

export type ReceivedResult =
  | { readonly forwarded: false; readonly reason: 'forwarding not configured' }
  | { readonly outcome: 'fannedOut'; readonly forwards: number }
  | { readonly outcome: ForwardOutcome };

export function makeInboundProcessor(deps: InboundProcessorDeps) {
  const { metrics, log, forwarder } = deps;
  if (forwarder === null) {
    log.info('inbound forwarding off (FORWARD_RULES unset): received mail is recorded only');
  } else {
    const { config } = forwarder;
    log.info(
      {
        rules: config.ruleCount,
        rulesSource: config.rulesSource,
        failedVerdicts: config.failedVerdicts,
        maxBytes: config.maxBytes,
      },
      'inbound forwarding on',
    );
  }
  const forward = forwarder === null ? null : makeForwardProcessor(forwarder, metrics, log);

  const received = async (job: InboundJob, context: JobContext): Promise<ReceivedResult> => {
    const about = {
      sesMessageId: job.sesMessageId,
      recipients: job.recipients.length,
      action: job.action.type,
      verdicts: job.verdicts,
    };
    if (forwarder === null) {
      metrics.inboundReceived.inc({ action: job.action.type });
      log.info(about, 'received mail recorded (forwarding not configured)');
      return { forwarded: false, reason: 'forwarding not configured' };
    }
    const plan = planForwarding(job, forwarder.config);
    if (plan.kind === 'drop') {
      metrics.inboundReceived.inc({ action: job.action.type });
      metrics.inboundForwarded.inc({ outcome: plan.outcome });
      log.info({ ...about, outcome: plan.outcome }, 'received mail not forwarded');
      return { outcome: plan.outcome };
    }
    // A failed add throws: the job is retried, and the jobs already added are not added twice.
    const { failed } = await forwarder.fanOut.enqueue(plan.jobs);
    const failure = failed.values().next();
    if (!failure.done) throw new Error(`adding forward jobs failed: ${failure.value.message}`);
    // Each forward job carries its own copy; this one is not read again.
    if (job.content !== null) {
      await releaseContent(context, { ...job, content: null }, log, job.sesMessageId);
    }
    metrics.inboundReceived.inc({ action: job.action.type });
    log.info({ ...about, forwards: plan.jobs.length }, 'received mail: forwarding');
    return { outcome: 'fannedOut', forwards: plan.jobs.length };
  };

  return async (
    data: InboundJob | ForwardJob,
    job: JobContext,
  ): Promise<ReceivedResult | ForwardResult> => {
    switch (job.name) {
      case 'received':
        return received(data as InboundJob, job);
      case 'forward':
        if (forward === null) {
          // Forwarding was switched off after the job was added: keep it for replay-failed.
          throw new UnrecoverableError('forwarding is not configured (FORWARD_RULES unset)');
        }
        return forward(data as ForwardJob, job);
      default:
        throw new UnrecoverableError(`unknown inbound job name ${JSON.stringify(job.name)}`);
    }
  };
}
