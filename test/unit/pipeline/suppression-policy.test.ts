/** The minimal suppression policy: which jobs put an address on the list, and with what evidence. */
import { isRight } from 'fp-ts/Either';
import { decodeSqsBody } from '../../../domain/decode';
import type { SuppressionJob } from '../../../domain/jobs';
import { routeEvent } from '../../../domain/routing';
import { suppressionEvidence } from '../../../domain/suppression';
import { fixtureText } from '../../support/fixtures';

const suppressionJobs = (name: string): SuppressionJob[] => {
  const decoded = decodeSqsBody(fixtureText(name));
  if (!isRight(decoded)) throw new Error(decoded.left.message);
  return routeEvent(decoded.right).flatMap((job) =>
    job.queue === 'suppression' ? [job.data] : [],
  );
};
const reasons = (name: string) =>
  suppressionJobs(name).map((job) => suppressionEvidence(job)?.reason ?? null);

describe('suppressionEvidence', () => {
  it.each([
    ['notifications/bounce-permanent-general.json', ['bounce']],
    ['notifications/bounce-permanent-noemail-two-recipients.json', ['bounce', 'bounce']],
    ['notifications/bounce-permanent-suppressed.json', ['bounce']],
    ['notifications/bounce-permanent-onaccountsuppressionlist.json', ['bounce']],
    ['event-publishing/bounce.json', ['bounce']],
    ['notifications/bounce-transient-mailboxfull.json', [null]],
    ['notifications/bounce-undetermined.json', [null]],
    ['notifications/complaint-abuse.json', ['complaint']],
    ['notifications/complaint-no-feedback-type.json', ['complaint']],
    ['notifications/complaint-onaccountsuppressionlist.json', ['complaint']],
    ['notifications/complaint-not-spam.json', [null]],
    ['event-publishing/delivery.json', [null]],
    ['event-publishing/subscription.json', [null]],
  ])('%s → %j', (name, expected) => {
    expect(reasons(name)).toEqual(expected);
  });

  it('keeps the evidence: SES ids, time, bounce type and diagnostic', () => {
    const [job] = suppressionJobs('notifications/bounce-permanent-general.json');
    expect(job?.kind).toBe('bounce');
    const evidence = suppressionEvidence(job!);
    expect(evidence).toMatchObject({
      reason: 'bounce',
      at: job!.timestamp,
      sesMessageId: job!.sesMessageId,
      source: job!.source,
    });
    expect(evidence?.detail).toMatch(/^Permanent\/General/);
    expect(evidence?.feedbackId).toBe(
      (job as Extract<SuppressionJob, { kind: 'bounce' }>).feedbackId,
    );
  });
});
