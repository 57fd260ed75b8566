/**
 * Break a valid sample by removing a required field or giving it the wrong type: decoding must
 * fail with an error that names that field's path, raw and inside an SNS envelope.
 */
import fc from 'fast-check';
import { decodeSqsBody } from '../../../domain/decode';
import { fixtureJson, snsBody } from '../../support/fixtures';

type Segment = string | number;
type Path = readonly Segment[];

const render = (path: Path): string =>
  path.reduce<string>(
    (out, seg) => (typeof seg === 'number' ? `${out}[${seg}]` : out === '' ? seg : `${out}.${seg}`),
    '',
  );

function mutate(json: unknown, path: Path, replace: (old: unknown) => unknown): unknown {
  const copy = structuredClone(json) as Record<string | number, unknown>;
  let parent: Record<string | number, unknown> = copy;
  for (const seg of path.slice(0, -1)) parent = parent[seg] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  const next = replace(parent[last]);
  if (next === REMOVE) delete parent[last];
  else parent[last] = next;
  return copy;
}
const REMOVE = Symbol('remove');

/** A value of another JSON type than `old` (numeric strings excluded: counts accept them). */
const wrongTypeFor = (old: unknown): fc.Arbitrary<unknown> => {
  const pool: fc.Arbitrary<unknown>[] = [fc.constant(null)];
  if (typeof old !== 'boolean') pool.push(fc.boolean());
  if (typeof old !== 'number') pool.push(fc.integer());
  if (typeof old !== 'string') pool.push(fc.string().filter((s) => !/^\s*-?\d/.test(s)));
  if (!Array.isArray(old)) pool.push(fc.array(fc.string(), { maxLength: 2 }));
  if (typeof old !== 'object' || old === null || Array.isArray(old))
    pool.push(fc.dictionary(fc.string(), fc.string(), { maxKeys: 2 }));
  return fc.oneof(...pool);
};

const sentMail: Path[] = [
  ['mail'],
  ['mail', 'timestamp'],
  ['mail', 'messageId'],
  ['mail', 'source'],
  ['mail', 'destination'],
];

/** Required fields per sample, as the codecs must enforce them. */
const requiredFields: ReadonlyArray<readonly [fixture: string, paths: Path[]]> = [
  [
    'event-publishing/bounce.json',
    [
      ...sentMail,
      ['bounce'],
      ['bounce', 'bounceType'],
      ['bounce', 'bounceSubType'],
      ['bounce', 'bouncedRecipients'],
      ['bounce', 'bouncedRecipients', 0, 'emailAddress'],
      ['bounce', 'timestamp'],
      ['bounce', 'feedbackId'],
    ],
  ],
  [
    'event-publishing/complaint.json',
    [
      ...sentMail,
      ['complaint'],
      ['complaint', 'complainedRecipients'],
      ['complaint', 'complainedRecipients', 0, 'emailAddress'],
      ['complaint', 'timestamp'],
      ['complaint', 'feedbackId'],
    ],
  ],
  [
    'event-publishing/delivery.json',
    [...sentMail, ['delivery'], ['delivery', 'timestamp'], ['delivery', 'recipients']],
  ],
  ['event-publishing/send.json', sentMail],
  ['event-publishing/reject.json', [...sentMail, ['reject'], ['reject', 'reason']]],
  ['event-publishing/open.json', [...sentMail, ['open'], ['open', 'timestamp']]],
  [
    'event-publishing/click.json',
    [...sentMail, ['click'], ['click', 'timestamp'], ['click', 'link']],
  ],
  [
    'event-publishing/rendering-failure.json',
    [...sentMail, ['failure'], ['failure', 'templateName'], ['failure', 'errorMessage']],
  ],
  [
    'event-publishing/delivery-delay.json',
    [
      ...sentMail,
      ['deliveryDelay'],
      ['deliveryDelay', 'timestamp'],
      ['deliveryDelay', 'delayType'],
      ['deliveryDelay', 'delayedRecipients'],
      ['deliveryDelay', 'delayedRecipients', 0, 'emailAddress'],
    ],
  ],
  [
    'event-publishing/subscription.json',
    [
      ...sentMail,
      ['subscription'],
      ['subscription', 'contactList'],
      ['subscription', 'timestamp'],
      ['subscription', 'newTopicPreferences'],
      ['subscription', 'newTopicPreferences', 'unsubscribeAll'],
    ],
  ],
  [
    'notifications/bounce-permanent-general.json',
    [
      ...sentMail,
      ['bounce', 'bounceType'],
      ['bounce', 'bouncedRecipients', 0, 'emailAddress'],
      ['bounce', 'feedbackId'],
    ],
  ],
  [
    'notifications/complaint-abuse.json',
    [...sentMail, ['complaint', 'complainedRecipients'], ['complaint', 'feedbackId']],
  ],
  ['notifications/delivery.json', [...sentMail, ['delivery', 'recipients']]],
  [
    'receiving/received-s3.json',
    [
      ['mail'],
      ['mail', 'timestamp'],
      ['mail', 'messageId'],
      ['mail', 'source'],
      ['mail', 'destination'],
      ['receipt'],
      ['receipt', 'timestamp'],
      ['receipt', 'recipients'],
      ['receipt', 'action'],
      ['receipt', 'action', 'type'],
      ['receipt', 'action', 'bucketName'],
      ['receipt', 'action', 'objectKey'],
    ],
  ],
  [
    'receiving/received-sns-utf8.json',
    [
      ['receipt', 'recipients', 0],
      ['receipt', 'action', 'encoding'] /* present: retyped only */,
    ],
  ],
  ['receiving/received-lambda.json', [['receipt', 'action', 'functionArn']]],
];

/** Fields that may be absent but, when present, must have the right type. */
const optionalPresent = new Set(['receipt.action.encoding']);

const cases = requiredFields.flatMap(([fixture, paths]) =>
  paths.map((path) => [fixture, render(path), path] as const),
);

describe.each(cases)('%s: %s', (fixture, rendered, path) => {
  const sample = fixtureJson(fixture);

  if (!optionalPresent.has(rendered) && typeof path[path.length - 1] === 'string') {
    it('removed → an error at that path', () => {
      const broken = mutate(sample, path, () => REMOVE);
      for (const [body, prefix] of [
        [JSON.stringify(broken), ''],
        [snsBody(broken), 'Message.'],
      ] as const) {
        const result = decodeSqsBody(body);
        if (result._tag === 'Right') throw new Error(`decoded without ${rendered}`);
        expect(result.left.path).toBe(prefix + rendered);
        expect(result.left.message).toContain(`at ${prefix}${rendered}: expected `);
        expect(result.left.found).toBe('undefined');
      }
    });
  }

  it('given the wrong type → an error at that path', () => {
    const original = path.reduce<unknown>(
      (v, seg) => (v as Record<string | number, unknown>)[seg],
      sample,
    );
    fc.assert(
      fc.property(wrongTypeFor(original), fc.boolean(), (wrong, wrapped) => {
        const broken = mutate(sample, path, () => wrong);
        const result = decodeSqsBody(wrapped ? snsBody(broken) : JSON.stringify(broken));
        if (result._tag === 'Right') return false;
        return (
          result.left.path === (wrapped ? 'Message.' : '') + rendered &&
          result.left.reason !== 'internal'
        );
      }),
      { numRuns: 25 },
    );
  });
});

describe('an SNS envelope with a field missing or mistyped', () => {
  const ses = fixtureJson('event-publishing/bounce.json');
  it.each(['MessageId', 'TopicArn', 'Timestamp', 'Message'])('%s', (field) => {
    const envelope = JSON.parse(snsBody(ses)) as Record<string, unknown>;
    delete envelope[field];
    const result = decodeSqsBody(JSON.stringify(envelope));
    expect(result).toMatchObject({ _tag: 'Left', left: { path: field, reason: 'invalid' } });
    const retyped = decodeSqsBody(JSON.stringify({ ...envelope, [field]: 42 }));
    expect(retyped).toMatchObject({ _tag: 'Left', left: { path: field } });
  });

  it.each(['SubscribeURL', 'Token'])('%s of a SubscriptionConfirmation', (field) => {
    const envelope = fixtureJson('sns/subscription-confirmation.json');
    delete envelope[field];
    expect(decodeSqsBody(JSON.stringify(envelope))).toMatchObject({
      _tag: 'Left',
      left: { path: field },
    });
  });
});
