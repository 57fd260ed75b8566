/** The suppression policy, rule by rule: which notifications change the list, and how. */
import { isRight } from 'fp-ts/Either';
import { decodeSqsBody } from '../../../domain/decode';
import type { SuppressionJob } from '../../../domain/jobs';
import { routeEvent } from '../../../domain/routing';
import {
  DEFAULT_SUPPRESSION_POLICY,
  parseScope,
  reasonRank,
  suppressionChanges,
  type SuppressionChange,
  type SuppressionPolicy,
} from '../../../domain/suppression';
import { fixtureJson, fixtureText, snsBody } from '../../support/fixtures';

const suppressionJobs = (body: string): SuppressionJob[] => {
  const decoded = decodeSqsBody(body);
  if (!isRight(decoded)) throw new Error(decoded.left.message);
  return routeEvent(decoded.right).flatMap((job) =>
    job.queue === 'suppression' ? [job.data] : [],
  );
};

/** One line per change: `type scope reason`, enough to read a rule at a glance. */
const summary = (change: SuppressionChange): string => {
  switch (change.type) {
    case 'suppress':
      return `suppress ${change.scope} ${change.reason}`;
    case 'lift':
    case 'remove':
      return `${change.type} ${change.scope}`;
    case 'countTransient':
      return `countTransient ${change.threshold} in ${change.windowMs / 86_400_000}d`;
    case 'resetTransient':
    case 'record':
      return change.type;
  }
};

const changesOf = (body: string, policy: SuppressionPolicy = DEFAULT_SUPPRESSION_POLICY) =>
  suppressionJobs(body).map((job) => suppressionChanges(job, policy).map(summary));

/** A fixture with its SES fields overridden, e.g. another bounce type. */
const variant = <T>(name: string, edit: (json: T) => void): string => {
  const json = fixtureJson<T>(name);
  edit(json);
  return snsBody(json);
};

describe('suppressionChanges', () => {
  describe('fixtures', () => {
    it.each([
      // Permanent bounces, whatever the subtype, suppress globally.
      ['notifications/bounce-permanent-general.json', [['suppress global bounce']]],
      [
        'notifications/bounce-permanent-noemail-two-recipients.json',
        [['suppress global bounce'], ['suppress global bounce']],
      ],
      ['notifications/bounce-permanent-suppressed.json', [['suppress global bounce']]],
      [
        'notifications/bounce-permanent-onaccountsuppressionlist.json',
        [['suppress global bounce']],
      ],
      ['event-publishing/bounce.json', [['suppress global bounce']]],
      // Transient and undetermined bounces are counted.
      ['notifications/bounce-transient-mailboxfull.json', [['countTransient 3 in 7d']]],
      ['notifications/bounce-undetermined.json', [['countTransient 3 in 7d']]],
      // Complaints suppress, except not-spam, which is only recorded.
      ['notifications/complaint-abuse.json', [['suppress global complaint']]],
      ['notifications/complaint-no-feedback-type.json', [['suppress global complaint']]],
      ['notifications/complaint-onaccountsuppressionlist.json', [['suppress global complaint']]],
      ['notifications/complaint-not-spam.json', [['record']]],
      // A delivery resets the transient count.
      ['notifications/delivery.json', [['resetTransient'], ['resetTransient']]],
      ['event-publishing/delivery.json', [['resetTransient']]],
      // unsubscribeAll: the whole list; a topic OptOut: that topic.
      [
        'event-publishing/subscription.json',
        [
          [
            'suppress list:ContactListName unsubscribe',
            'suppress topic:ContactListName:ExampleTopicName unsubscribe',
          ],
        ],
      ],
    ])('%s → %j', (name, expected) => {
      expect(changesOf(fixtureText(name))).toEqual(expected);
    });

    it.each([
      'event-publishing/send.json',
      'event-publishing/reject.json',
      'event-publishing/open.json',
      'event-publishing/click.json',
      'event-publishing/rendering-failure.json',
      'event-publishing/delivery-delay.json',
    ])('%s does not touch the list', (name) => {
      expect(changesOf(fixtureText(name))).toEqual([]);
    });
  });

  describe('bounce types', () => {
    it.each([
      ['Permanent', 'General', 'suppress global bounce'],
      ['Permanent', 'NoEmail', 'suppress global bounce'],
      ['Permanent', 'UnsubscribedRecipient', 'suppress global bounce'],
      ['Permanent', 'Suppressed', 'suppress global bounce'],
      ['Permanent', 'OnAccountSuppressionList', 'suppress global bounce'],
      ['Transient', 'General', 'countTransient 3 in 7d'],
      ['Transient', 'MailboxFull', 'countTransient 3 in 7d'],
      ['Transient', 'MessageTooLarge', 'countTransient 3 in 7d'],
      ['Transient', 'ContentRejected', 'countTransient 3 in 7d'],
      ['Transient', 'AttachmentRejected', 'countTransient 3 in 7d'],
      ['Undetermined', 'Undetermined', 'countTransient 3 in 7d'],
    ])('%s/%s → %s', (bounceType, bounceSubType, expected) => {
      const body = variant<{ bounce: { bounceType: string; bounceSubType: string } }>(
        'notifications/bounce-permanent-general.json',
        (json) => {
          json.bounce.bounceType = bounceType;
          json.bounce.bounceSubType = bounceSubType;
        },
      );
      expect(changesOf(body)).toEqual([[expected]]);
    });

    it('takes the threshold and window from the policy; 0 turns counting off', () => {
      const body = fixtureText('notifications/bounce-transient-mailboxfull.json');
      expect(changesOf(body, { transientThreshold: 5, transientWindowMs: 2 * 86_400_000 })).toEqual(
        [['countTransient 5 in 2d']],
      );
      const off = { transientThreshold: 0, transientWindowMs: 86_400_000 };
      expect(changesOf(body, off)).toEqual([['record']]);
      expect(changesOf(fixtureText('notifications/delivery.json'), off)).toEqual([[], []]);
    });
  });

  describe('subscriptions', () => {
    const subscription = (preferences: {
      unsubscribeAll: boolean;
      topicSubscriptionStatus?: { topicName: string; subscriptionStatus: string }[];
    }) =>
      variant<{ subscription: { newTopicPreferences: unknown } }>(
        'event-publishing/subscription.json',
        (json) => {
          json.subscription.newTopicPreferences = preferences;
        },
      );

    it.each([
      [{ unsubscribeAll: true }, ['suppress list:ContactListName unsubscribe']],
      [{ unsubscribeAll: false }, ['lift list:ContactListName']],
      [
        {
          unsubscribeAll: false,
          topicSubscriptionStatus: [
            { topicName: 'Weekly', subscriptionStatus: 'OptOut' },
            { topicName: 'Offers', subscriptionStatus: 'OptIn' },
          ],
        },
        [
          'lift list:ContactListName',
          'suppress topic:ContactListName:Weekly unsubscribe',
          'lift topic:ContactListName:Offers',
        ],
      ],
    ])('%j → %j', (preferences, expected) => {
      expect(changesOf(subscription(preferences))).toEqual([expected]);
    });
  });

  it('keeps the evidence: SES ids, time, bounce type, status and diagnostic', () => {
    const [job] = suppressionJobs(fixtureText('notifications/bounce-permanent-general.json'));
    const [change] = suppressionChanges(job!, DEFAULT_SUPPRESSION_POLICY);
    expect(change?.type).toBe('suppress');
    const bounce = job as Extract<SuppressionJob, { kind: 'bounce' }>;
    expect(change?.evidence).toEqual({
      at: bounce.timestamp,
      kind: 'bounce',
      sesMessageId: bounce.sesMessageId,
      feedbackId: bounce.feedbackId,
      bounceType: 'Permanent',
      bounceSubType: 'General',
      source: bounce.source,
      ...(bounce.status === null ? {} : { status: bounce.status }),
      ...(bounce.diagnosticCode === null ? {} : { diagnosticCode: bounce.diagnosticCode }),
      ...(bounce.configurationSet === null ? {} : { configurationSet: bounce.configurationSet }),
    });
  });

  it('keeps the complaint feedback type of a not-spam report it records', () => {
    const [job] = suppressionJobs(fixtureText('notifications/complaint-not-spam.json'));
    const [change] = suppressionChanges(job!, DEFAULT_SUPPRESSION_POLICY);
    expect(change).toMatchObject({
      type: 'record',
      evidence: { kind: 'complaint', complaintFeedbackType: 'not-spam' },
    });
  });
});

describe('scopes and reasons', () => {
  it.each([
    ['global', 'global'],
    ['list:Newsletter', 'list:Newsletter'],
    ['topic:Newsletter:Weekly-Digest_2', 'topic:Newsletter:Weekly-Digest_2'],
    ['Global', null],
    ['list:', null],
    ['list:a:b', null],
    ['topic:Newsletter', null],
    ['topic:News letter:Weekly', null],
    [`list:${'x'.repeat(129)}`, null],
  ])('parseScope(%j) → %j', (text, expected) => {
    expect(parseScope(text)).toBe(expected);
  });

  it('ranks complaint above bounce above transient bounces, unsubscribe and manual', () => {
    const ranks = (
      ['complaint', 'bounce', 'transient-bounces', 'unsubscribe', 'manual'] as const
    ).map(reasonRank);
    expect(ranks).toEqual([...ranks].sort((a, b) => b - a));
    expect(new Set(ranks).size).toBe(5);
  });
});
