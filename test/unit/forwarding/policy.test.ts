/** The verdict policy (table-driven) and the plan a received message gets. */
import { isRight } from 'fp-ts/Either';
import type { EmailAddress } from '../../../domain/address';
import {
  planForwarding,
  verdictDecision,
  type FailedVerdictHandling,
  type ForwardingSettings,
} from '../../../domain/forwarding/policy';
import { decodeForwardRules } from '../../../domain/forwarding/rules';
import type { InboundJob, JobSpec } from '../../../domain/jobs';
import { decodeSqsBody } from '../../../domain/decode';
import { routeEvent } from '../../../domain/routing';
import { fixtureText } from '../../support/fixtures';

type Verdicts = InboundJob['verdicts'];
const PASS: Verdicts = {
  spam: 'PASS',
  virus: 'PASS',
  spf: 'PASS',
  dkim: 'PASS',
  dmarc: 'PASS',
  dmarcPolicy: null,
};

describe('verdictDecision', () => {
  const cases: [string, Partial<Verdicts>, FailedVerdictHandling, unknown][] = [
    ['all PASS', {}, 'drop', { forward: true, subjectTags: [] }],
    ['spam FAIL, drop', { spam: 'FAIL' }, 'drop', { forward: false, outcome: 'spam' }],
    ['spam FAIL, tag', { spam: 'FAIL' }, 'tag', { forward: true, subjectTags: ['SPAM'] }],
    ['virus FAIL, drop', { virus: 'FAIL' }, 'drop', { forward: false, outcome: 'virus' }],
    ['virus FAIL, tag', { virus: 'FAIL' }, 'tag', { forward: true, subjectTags: ['VIRUS'] }],
    [
      'virus and spam FAIL, drop: virus is named',
      { virus: 'FAIL', spam: 'FAIL' },
      'drop',
      { forward: false, outcome: 'virus' },
    ],
    [
      'virus and spam FAIL, tag: both tags',
      { virus: 'FAIL', spam: 'FAIL' },
      'tag',
      { forward: true, subjectTags: ['VIRUS', 'SPAM'] },
    ],
    [
      'DMARC FAIL, policy reject',
      { dmarc: 'FAIL', dmarcPolicy: 'reject' },
      'drop',
      { forward: false, outcome: 'dmarcReject' },
    ],
    [
      'DMARC FAIL, policy reject: dropped even when tagging',
      { dmarc: 'FAIL', dmarcPolicy: 'reject' },
      'tag',
      { forward: false, outcome: 'dmarcReject' },
    ],
    [
      'DMARC FAIL, policy reject, spam FAIL: DMARC is named',
      { dmarc: 'FAIL', dmarcPolicy: 'reject', spam: 'FAIL' },
      'drop',
      { forward: false, outcome: 'dmarcReject' },
    ],
    [
      'DMARC FAIL, policy quarantine: forwarded',
      { dmarc: 'FAIL', dmarcPolicy: 'quarantine' },
      'drop',
      { forward: true, subjectTags: [] },
    ],
    [
      'DMARC FAIL, policy none',
      { dmarc: 'FAIL', dmarcPolicy: 'none' },
      'drop',
      { forward: true, subjectTags: [] },
    ],
    [
      'DMARC GRAY with policy reject (not a failure)',
      { dmarc: 'GRAY', dmarcPolicy: 'reject' },
      'drop',
      { forward: true, subjectTags: [] },
    ],
    [
      'GRAY, PROCESSING_FAILED and DISABLED are not FAIL',
      { spam: 'GRAY', virus: 'PROCESSING_FAILED', dkim: 'DISABLED' },
      'drop',
      { forward: true, subjectTags: [] },
    ],
    [
      'no verdicts at all',
      { spam: null, virus: null, spf: null, dkim: null, dmarc: null },
      'drop',
      { forward: true, subjectTags: [] },
    ],
    [
      'SPF and DKIM FAIL alone do not drop',
      { spf: 'FAIL', dkim: 'FAIL' },
      'drop',
      { forward: true, subjectTags: [] },
    ],
  ];
  it.each(cases)('%s', (_name, verdicts, handling, expected) => {
    expect(verdictDecision({ ...PASS, ...verdicts }, handling)).toEqual(expected);
  });
});

const receivedJob = (fixture: string, change: (job: InboundJob) => InboundJob = (j) => j) => {
  const decoded = decodeSqsBody(fixtureText(fixture));
  if (!isRight(decoded)) throw new Error(decoded.left.message);
  const job = routeEvent(decoded.right).find((j) => j.queue === 'inbound');
  return change(job!.data as InboundJob);
};

const settings = (
  rules: unknown,
  changes: Partial<ForwardingSettings> = {},
): ForwardingSettings => {
  const decoded = decodeForwardRules(rules);
  if (!isRight(decoded)) throw new Error(decoded.left.message);
  return {
    rules: decoded.right,
    from: 'forwarder@example.com' as EmailAddress,
    failedVerdicts: 'drop',
    maxBytes: 10 * 1024 * 1024,
    ...changes,
  };
};

describe('planForwarding', () => {
  const everyone = settings({ '@': ['ops@example.net'] });

  it('SNS content: one forward job per target, carrying the content and its encoding', () => {
    const plan = planForwarding(
      receivedJob('receiving/received-sns-utf8.json'),
      settings({ 'info@example.com': ['ops@example.net'], '@example.com': ['team@example.net'] }),
    );
    expect(plan.kind).toBe('forward');
    const jobs = (plan as { jobs: readonly JobSpec[] }).jobs;
    expect(jobs.map((j) => [j.queue, j.name, j.id])).toEqual([
      [
        'inbound',
        'forward',
        'inbound/forward/36ldvptflevkeh1bkqq9cctkqkqqgfuo23lqpc1v/ops@example.net',
      ],
      [
        'inbound',
        'forward',
        'inbound/forward/36ldvptflevkeh1bkqq9cctkqkqqgfuo23lqpc1v/team@example.net',
      ],
    ]);
    expect(jobs[0]!.data).toMatchObject({
      target: 'ops@example.net',
      recipients: ['info@example.com'],
      mailFrom: 'alice@example.org',
      source: { type: 'content', encoding: 'UTF8' },
      subjectTags: [],
    });
    expect(jobs[1]!.data).toMatchObject({ recipients: ['sales@example.com'] });
  });

  it('S3 action: the job points at the object', () => {
    const plan = planForwarding(receivedJob('receiving/received-s3.json'), everyone);
    expect(plan).toMatchObject({
      kind: 'forward',
      jobs: [
        {
          data: {
            source: {
              type: 's3',
              bucketName: 'inbound-mail',
              objectKey: 'incoming/93sasffgq61eai72danntblab0si4rp0a4kfo1sg',
            },
          },
        },
      ],
    });
  });

  it('escapes ":" in job ids (BullMQ refuses it)', () => {
    const plan = planForwarding(
      receivedJob('receiving/received-s3.json', (j) => ({ ...j, sesMessageId: 'a:b%c' })),
      everyone,
    );
    expect((plan as { jobs: readonly JobSpec[] }).jobs[0]!.id).toBe(
      'inbound/forward/a%3Ab%25c/ops@example.net',
    );
  });

  it.each([
    ['receiving/received-bounce-action.json', 'noContent'],
    ['receiving/received-lambda.json', 'noContent'],
    ['receiving/received-stop.json', 'noContent'],
    ['receiving/received-workmail.json', 'noContent'],
    ['receiving/received-spam-fail.json', 'spam'],
    ['receiving/received-virus-fail.json', 'virus'],
    ['receiving/received-dmarc-fail-reject.json', 'dmarcReject'],
  ])('%s is dropped: %s', (fixture, outcome) => {
    expect(planForwarding(receivedJob(fixture), everyone)).toEqual({ kind: 'drop', outcome });
  });

  it('an SNS action without content has nothing to forward', () => {
    const job = receivedJob('receiving/received-sns-utf8.json', (j) => ({ ...j, content: null }));
    expect(planForwarding(job, everyone)).toEqual({ kind: 'drop', outcome: 'noContent' });
  });

  it('no rule for any recipient: noRule, whatever else is true', () => {
    const plan = planForwarding(
      receivedJob('receiving/received-spam-fail.json'),
      settings({ 'someone-else@example.com': ['ops@example.net'] }),
    );
    expect(plan).toEqual({ kind: 'drop', outcome: 'noRule' });
  });

  it('mail whose envelope sender is FORWARD_FROM is a loop', () => {
    const job = receivedJob('receiving/received-sns-utf8.json', (j) => ({
      ...j,
      mailFrom: 'forwarder@example.com',
    }));
    expect(planForwarding(job, everyone)).toEqual({ kind: 'drop', outcome: 'loop' });
  });

  it('tag mode forwards spam with the tag on every job', () => {
    const plan = planForwarding(
      receivedJob('receiving/received-spam-fail.json'),
      settings({ '@': ['ops@example.net'] }, { failedVerdicts: 'tag' }),
    );
    expect(plan).toMatchObject({ kind: 'forward', jobs: [{ data: { subjectTags: ['SPAM'] } }] });
  });

  it('a null sender (bounce) is forwarded; mailFrom stays null', () => {
    const plan = planForwarding(receivedJob('receiving/received-null-sender.json'), everyone);
    expect(plan).toMatchObject({ kind: 'forward', jobs: [{ data: { mailFrom: null } }] });
  });
});
