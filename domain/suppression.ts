/**
 * Which suppression jobs put an address on the list (the minimal policy; the suppression issue
 * adds transient-bounce counting, subscriptions and scopes). Pure.
 */
import type { SuppressionJob } from './jobs';
import type { SuppressionEvidence } from './ports';

/** The evidence to record for the job's address, or null when the job suppresses nothing. */
export function suppressionEvidence(job: SuppressionJob): SuppressionEvidence | null {
  switch (job.kind) {
    case 'bounce':
      // Only a permanent bounce means "never again"; SES counts only those in the bounce rate.
      if (job.bounceType !== 'Permanent') return null;
      return {
        reason: 'bounce',
        at: job.timestamp,
        sesMessageId: job.sesMessageId,
        feedbackId: job.feedbackId,
        detail: [`${job.bounceType}/${job.bounceSubType}`, job.status, job.diagnosticCode]
          .filter((part) => part !== null && part !== '')
          .join(' '),
        source: job.source,
      };
    case 'complaint':
      // A `not-spam` report is the recipient taking a complaint back, not making one.
      if (job.complaintFeedbackType === 'not-spam') return null;
      return {
        reason: 'complaint',
        at: job.timestamp,
        sesMessageId: job.sesMessageId,
        feedbackId: job.feedbackId,
        detail: job.complaintFeedbackType,
        source: job.source,
      };
    case 'delivery':
    case 'subscription':
      return null;
  }
}
