/**
 * Decoding never throws, on any input: each hostile case gets a `DecodeError` with a clear
 * reason and path, and the catch-all `internal` reason is never reached.
 */
import fc from 'fast-check';
import { decodeSqsBody } from '../../../domain/decode';
import { fixtureJson, snsBody, snsEnvelope } from '../../support/fixtures';

const bounce = fixtureJson('event-publishing/bounce.json');
const bounceMail = bounce.mail as Record<string, unknown>;

function failure(body: string) {
  const result = decodeSqsBody(body);
  if (result._tag === 'Right') throw new Error(`decoded: ${body.slice(0, 80)}`);
  return result.left;
}

describe('hostile bodies', () => {
  it.each([
    ['empty', '', 'notJson', ''],
    ['whitespace', ' \n\t ', 'notJson', ''],
    ['not JSON', 'Bounce: recipient@example.com', 'notJson', ''],
    ['truncated JSON', JSON.stringify(bounce).slice(0, 300), 'notJson', ''],
    ['null', 'null', 'invalid', ''],
    ['a number', '42', 'invalid', ''],
    ['a string', '"{\\"eventType\\":\\"Bounce\\"}"', 'invalid', ''],
    ['an array', `[${JSON.stringify(bounce)}]`, 'invalid', ''],
    ['an empty object', '{}', 'invalid', ''],
    [
      'an unknown eventType',
      JSON.stringify({ ...bounce, eventType: 'Bounced' }),
      'unsupported',
      'eventType',
    ],
    [
      'an eventType that is a prototype name',
      JSON.stringify({ ...bounce, eventType: 'constructor' }),
      'unsupported',
      'eventType',
    ],
    [
      'eventType __proto__',
      JSON.stringify({ ...bounce, eventType: '__proto__' }),
      'unsupported',
      'eventType',
    ],
    [
      'an eventType that is not a string',
      JSON.stringify({ ...bounce, eventType: ['Bounce'] }),
      'invalid',
      'eventType',
    ],
    [
      'an unknown notificationType',
      '{"notificationType":"Opened","mail":{}}',
      'unsupported',
      'notificationType',
    ],
    [
      'an unknown SNS Type',
      JSON.stringify(snsEnvelope('{}', { Type: 'Notice' })),
      'unsupported',
      'Type',
    ],
    ['a Message that is not JSON', JSON.stringify(snsEnvelope('hello')), 'notJson', 'Message'],
    ['a Message that is empty', JSON.stringify(snsEnvelope('')), 'notJson', 'Message'],
    [
      'a Message that is a number',
      JSON.stringify(snsEnvelope(42 as unknown as string)),
      'invalid',
      'Message',
    ],
    ['a Message that is JSON null', JSON.stringify(snsEnvelope('null')), 'invalid', 'Message'],
    [
      'an SNS envelope inside an SNS envelope',
      snsBody(JSON.parse(snsBody(bounce))),
      'invalid',
      'Message',
    ],
    [
      'an unknown eventType inside Message',
      snsBody({ ...bounce, eventType: 'Nope' }),
      'unsupported',
      'Message.eventType',
    ],
    [
      'a recipient that is not an address',
      JSON.stringify({
        ...bounce,
        bounce: {
          ...(bounce.bounce as object),
          bouncedRecipients: [{ emailAddress: 'not an address' }],
        },
      }),
      'invalid',
      'bounce.bouncedRecipients[0].emailAddress',
    ],
    [
      'an impossible date',
      JSON.stringify({
        ...bounce,
        bounce: { ...(bounce.bounce as object), timestamp: '2017-02-30T00:00:00.000Z' },
      }),
      'invalid',
      'bounce.timestamp',
    ],
    [
      'an unknown bounceType',
      JSON.stringify({ ...bounce, bounce: { ...(bounce.bounce as object), bounceType: 'Soft' } }),
      'invalid',
      'bounce.bounceType',
    ],
    [
      'a tag key that needs quoting, with a bad value',
      JSON.stringify({
        ...bounce,
        mail: { ...bounceMail, tags: { 'ses:configuration-set': 'ConfigSet' } },
      }),
      'invalid',
      'mail.tags["ses:configuration-set"]',
    ],
  ])('%s', (_label, body, reason, path) => {
    const error = failure(body);
    expect(error.reason).toBe(reason);
    expect(error.path).toBe(path);
    expect(error.message).toMatch(/^at .+: expected .+, got .+$/);
    expect(error.message).not.toContain('\n');
  });

  describe('text that is not well-formed Unicode (a lone surrogate) is invalid, at its path', () => {
    // JSON.stringify writes a lone surrogate as the escape `\ud800`, as a hostile sender would.
    // An address field says "email address": nothing with a lone surrogate is one.
    const withBounce = (patch: Record<string, unknown>) =>
      JSON.stringify({ ...bounce, bounce: { ...(bounce.bounce as object), ...patch } });
    it.each([
      [
        'a feedbackId',
        withBounce({ feedbackId: 'fb-\ud800' }),
        'bounce.feedbackId',
        'well-formed Unicode text',
      ],
      [
        'a bounced address',
        withBounce({ bouncedRecipients: [{ emailAddress: '\ud800@example.com' }] }),
        'bounce.bouncedRecipients[0].emailAddress',
        'email address',
      ],
      [
        'a low surrogate alone',
        withBounce({ bouncedRecipients: [{ emailAddress: '\udc00@example.com' }] }),
        'bounce.bouncedRecipients[0].emailAddress',
        'email address',
      ],
      [
        'an open-enum value',
        withBounce({ bounceSubType: 'x\ud800' }),
        'bounce.bounceSubType',
        'well-formed Unicode text',
      ],
      [
        'an item of a string array',
        JSON.stringify({
          ...bounce,
          mail: { ...bounceMail, destination: ['a@b.c', '\udfff@example.com'] },
        }),
        'mail.destination[1]',
        'email address',
      ],
      [
        'a tag value',
        JSON.stringify({ ...bounce, mail: { ...bounceMail, tags: { name: ['\ud83d'] } } }),
        'mail.tags.name[0]',
        'well-formed Unicode text',
      ],
      [
        'a tag name',
        JSON.stringify({ ...bounce, mail: { ...bounceMail, tags: { '\ud800': ['x'] } } }),
        'mail.tags["\\ud800"]',
        'well-formed Unicode text',
      ],
      [
        'a field inside an SNS Message',
        snsBody({ ...bounce, bounce: { ...(bounce.bounce as object), feedbackId: '\ud800' } }),
        'Message.bounce.feedbackId',
        'well-formed Unicode text',
      ],
    ])('%s', (_label, body, path, expected) => {
      expect(failure(body)).toMatchObject({ reason: 'invalid', path, expected });
    });

    it('accepts a well-formed pair and U+FFFD, which are text', () => {
      const ok = withBounce({ feedbackId: 'fb-\ud83d\ude00-\ufffd' });
      expect(decodeSqsBody(ok)._tag).toBe('Right');
    });
  });

  it('shows at most a short excerpt of what it found', () => {
    const huge = 'x'.repeat(1_000_000);
    const error = failure(JSON.stringify({ ...bounce, eventType: huge }));
    expect(error.message.length).toBeLessThan(400);
    expect(failure(huge).message.length).toBeLessThan(200);
  });

  it('survives nesting far deeper than any SES message', () => {
    const depth = 100_000;
    expect(failure('['.repeat(depth) + ']'.repeat(depth)).reason).toBe('invalid');
    const deepTags = '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
    const body = JSON.stringify({
      ...bounce,
      mail: { ...bounceMail, tags: 'PLACEHOLDER' },
    }).replace('"PLACEHOLDER"', deepTags);
    expect(failure(body)).toMatchObject({ reason: 'invalid', path: 'mail.tags.a' });
  });

  it('counts the other problems it did not name', () => {
    const error = failure(JSON.stringify({ eventType: 'Bounce', mail: {}, bounce: {} }));
    expect(error.message).toMatch(
      /^at mail\.timestamp: expected ISO 8601 date-time, got undefined \(and \d+ more\)$/,
    );
  });
});

describe('__proto__ and other prototype keys are data, never structure', () => {
  it('a field supplied through __proto__ is not read as present', () => {
    const body = `{"__proto__": ${JSON.stringify({ bounce: bounce.bounce })}, "eventType": "Bounce", "mail": ${JSON.stringify(bounceMail)}}`;
    expect(failure(body)).toMatchObject({ reason: 'invalid', path: 'bounce' });
  });

  it('an optional field supplied through __proto__ is ignored, and nothing leaks into the event', () => {
    const mail = JSON.stringify({ ...bounceMail, tags: undefined });
    const body = JSON.stringify(bounce).replace(
      /"mail":\{.*\}\}$/,
      `"mail":${mail.slice(0, -1)},"__proto__":{"tags":{"ses:configuration-set":["Injected"]}}}}`,
    );
    expect(body).toContain('"__proto__":{"tags":{"ses:configuration-set":["Injected"]}}');
    const result = decodeSqsBody(body);
    if (result._tag === 'Left') throw new Error(result.left.message);
    if (!('configurationSet' in result.right)) throw new Error(result.right.kind);
    expect(result.right.configurationSet).toBeNull();
    expect(Object.getPrototypeOf(result.right.mail)).toBe(Object.prototype);
    expect(JSON.stringify(result.right)).not.toContain('Injected');
  });

  it('a __proto__ tag is kept as an ordinary tag and pollutes nothing', () => {
    const body = JSON.stringify(bounce).replace('"tags":{', '"tags":{"__proto__":["x"],');
    const result = decodeSqsBody(body);
    if (result._tag === 'Left') throw new Error(result.left.message);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    if (!('mail' in result.right)) throw new Error(result.right.kind);
    const tags = (result.right.mail as { tags?: Record<string, string[]> }).tags;
    expect(Object.keys(tags ?? {})).toContain('__proto__');
    expect(tags?.['__proto__']).toEqual(['x']);
  });
});

describe('properties: decoding returns a value for every input and never throws', () => {
  const neverThrows = (body: string): boolean => {
    const result = decodeSqsBody(body);
    return (
      result._tag === 'Right' ||
      (result.left.reason !== 'internal' && result.left.message.length > 0)
    );
  };

  it('for arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), neverThrows), {
      numRuns: 2_000,
    });
  });

  it('for arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => neverThrows(JSON.stringify(v))),
      { numRuns: 2_000 },
    );
  });

  it('for JSON objects with a known discriminator and arbitrary fields', () => {
    const discriminated = fc.record({
      key: fc.constantFrom('eventType', 'notificationType', 'Type'),
      value: fc.constantFrom(
        'Bounce',
        'Complaint',
        'Delivery',
        'Send',
        'Reject',
        'Open',
        'Click',
        'Rendering Failure',
        'DeliveryDelay',
        'Subscription',
        'Received',
        'AmazonSnsSubscriptionSucceeded',
        'Notification',
        'SubscriptionConfirmation',
        'UnsubscribeConfirmation',
        '__proto__',
        'toString',
      ),
      rest: fc.dictionary(
        fc.constantFrom(
          'mail',
          'bounce',
          'complaint',
          'delivery',
          'receipt',
          'content',
          'Message',
          'MessageId',
          'TopicArn',
          'Timestamp',
          '__proto__',
          'constructor',
        ),
        fc.jsonValue({ maxDepth: 4 }),
      ),
    });
    fc.assert(
      fc.property(discriminated, ({ key, value, rest }) =>
        neverThrows(JSON.stringify({ ...rest, [key]: value })),
      ),
      { numRuns: 2_000 },
    );
  });

  it('for SNS envelopes around mutated SES messages', () => {
    const samples = [
      'event-publishing/bounce.json',
      'event-publishing/click.json',
      'receiving/received-sns-utf8.json',
      'notifications/complaint-abuse.json',
    ].map((n) => JSON.stringify(fixtureJson(n)));
    const mutatedMessage = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
      // A valid sample cut short, or with a stretch of it replaced.
      fc
        .tuple(fc.constantFrom(...samples), fc.nat(), fc.nat(), fc.string({ maxLength: 20 }))
        .map(([s, a, b, insert]) => {
          const from = a % s.length;
          const to = from + (b % 40);
          return s.slice(0, from) + insert + s.slice(to);
        }),
    );
    fc.assert(
      fc.property(mutatedMessage, (message) => neverThrows(JSON.stringify(snsEnvelope(message)))),
      { numRuns: 3_000 },
    );
  });
});
