/**
 * The inbound queue's processor. Forwarding (rules, rewrite, SMTP) arrives with the inbound
 * issue; until then each received message is recorded in the log and counted, and its job
 * holds the message (content or S3 location) for the forwarder.
 */
import type { Logger } from 'pino';
import type { Metrics } from '../../adapters/metrics/registry';
import type { InboundJob } from '../../domain/jobs';

export function makeInboundProcessor(metrics: Metrics, log: Logger) {
  return (job: InboundJob): Promise<{ forwarded: false; reason: string }> => {
    metrics.inboundReceived.inc({ action: job.action.type });
    log.info(
      {
        sesMessageId: job.sesMessageId,
        recipients: job.recipients.length,
        action: job.action.type,
        verdicts: job.verdicts,
      },
      'received mail recorded (forwarding not configured)',
    );
    return Promise.resolve({ forwarded: false, reason: 'forwarding not configured' });
  };
}
