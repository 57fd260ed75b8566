/** The pure parts of replaying dead letters: durations, pacing, classification, filters, tallies. */
import { isLeft, isRight, type Either } from 'fp-ts/Either';
import fc from 'fast-check';
import {
  readDeadLetter,
  replayAttributes,
  REPLAY_ATTRIBUTE,
} from '../../../adapters/sqs/deadLetterMover';
import { ERROR_ATTRIBUTES } from '../../../adapters/sqs/messages';
import {
  classifyDeadLetter,
  describeFilter,
  errorLabel,
  isUnfiltered,
  makeTally,
  matchesFilter,
  moveTaskState,
  NO_FILTER,
  parseReplayFilter,
  receiveBatchSize,
  UNDECODABLE,
  type DeadLetterClass,
  type ReplayFilter,
} from '../../../domain/deadLetters';
import { formatDuration, paceDelayMs, parseDuration } from '../../../domain/duration';
import { fixtureText } from '../../support/fixtures';

const right = <A>(e: Either<string, A>): A => {
  if (isLeft(e)) throw new Error(`expected a value, got: ${e.left}`);
  return e.right;
};
const leftOf = <A>(e: Either<string, A>): string => {
  if (isRight(e)) throw new Error(`expected an error, got ${JSON.stringify(e.right)}`);
  return e.left;
};

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['15m', 900_000],
    ['2h', 7_200_000],
    ['7d', 604_800_000],
    ['1w', 604_800_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
    ['1.5h', 5_400_000],
    [' 2H ', 7_200_000],
    ['0s', 0],
  ])('%s is %d ms', (text, ms) => {
    expect(right(parseDuration(text))).toBe(ms);
  });

  it.each(['', '2', 'h', '2x', '2 h', '-1h', '1h-', 'abc', '1e3s', '400d'])(
    'rejects %j with what it expected',
    (text) => {
      expect(leftOf(parseDuration(text))).toMatch(/^expected (a duration such as|at most 366d)/);
    },
  );

  it('formats and parses back to the same whole seconds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 365 * 86_400 }), (seconds) => {
        expect(right(parseDuration(formatDuration(seconds * 1000)))).toBe(seconds * 1000);
      }),
    );
  });

  it('formats below a second in ms, and nonsense as ?', () => {
    expect(formatDuration(250)).toBe('250ms');
    expect(formatDuration(0)).toBe('0ms');
    expect(formatDuration(93_784_000)).toBe('1d2h3m4s');
    expect(formatDuration(3_600_000)).toBe('1h');
    expect(formatDuration(-1)).toBe('?');
    expect(formatDuration(Number.NaN)).toBe('?');
  });
});

describe('paceDelayMs', () => {
  it('lets the first batch go at once and spaces the rest to average the rate', () => {
    expect(paceDelayMs(5, 1000, 0, 1000)).toBe(0);
    // 10 sent at 5/s: the next batch is due 2 s after the start.
    expect(paceDelayMs(5, 1000, 10, 1500)).toBe(1500);
    expect(paceDelayMs(5, 1000, 10, 3000)).toBe(0);
    expect(paceDelayMs(5, 1000, 10, 9000)).toBe(0);
  });

  it('never lets more than rate × elapsed (+ one batch) through', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.1, max: 500, noNaN: true }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        (rate, done, elapsed) => {
          const wait = paceDelayMs(rate, 0, done, elapsed);
          expect(wait).toBeGreaterThanOrEqual(0);
          // After waiting, `done` is within what the rate allows by then.
          expect(done).toBeLessThanOrEqual(rate * ((elapsed + wait) / 1000) + 1e-6);
        },
      ),
    );
  });
});

describe('receiveBatchSize', () => {
  it('is 10 unless a low rate or the remaining --max says fewer', () => {
    expect(receiveBatchSize(null, null)).toBe(10);
    expect(receiveBatchSize(100, null)).toBe(10);
    expect(receiveBatchSize(3.7, null)).toBe(3);
    expect(receiveBatchSize(0.2, null)).toBe(1);
    expect(receiveBatchSize(null, 4)).toBe(4);
    expect(receiveBatchSize(2, 4)).toBe(2);
    expect(receiveBatchSize(null, 0)).toBe(0);
  });
});

describe('classifyDeadLetter', () => {
  const bounce = fixtureText('notifications/bounce-permanent-general.json');
  const now = Date.parse('2024-06-01T12:00:00Z');

  it('decodes the body with this version: kind and event id', () => {
    const c = classifyDeadLetter(
      { body: bounce, error: 'decode', reason: 'unsupported', sentAtMs: now - 7_200_000 },
      now,
    );
    expect(c).toEqual({
      kind: 'bounce',
      eventId: expect.stringMatching(/^bounce\//),
      decodeReason: null,
      error: 'decode',
      reason: 'unsupported',
      ageMs: 7_200_000,
    });
  });

  it('calls a body that still does not decode undecodable, with today’s reason', () => {
    const c = classifyDeadLetter(
      { body: 'not json', error: 'decode', reason: 'notJson', sentAtMs: null },
      now,
    );
    expect(c).toMatchObject({ kind: UNDECODABLE, eventId: null, decodeReason: 'notJson' });
    expect(c.ageMs).toBeNull();
  });

  it('calls a message without the worker’s error attribute redrive, ignoring a stray reason', () => {
    const c = classifyDeadLetter(
      { body: bounce, error: null, reason: 'invalid', sentAtMs: now },
      now,
    );
    expect(c).toMatchObject({ error: 'redrive', reason: null, ageMs: 0 });
    expect(errorLabel(c)).toBe('redrive');
  });

  it('keeps an error it does not know as it is', () => {
    const c = classifyDeadLetter(
      { body: bounce, error: 'forward', reason: 'smtp', sentAtMs: now },
      now,
    );
    expect(errorLabel(c)).toBe('forward/smtp');
  });

  it('never throws, whatever the body', () => {
    fc.assert(
      fc.property(fc.string(), fc.option(fc.string()), (body, error) => {
        const c = classifyDeadLetter({ body, error, reason: null, sentAtMs: null }, now);
        expect(c.kind === UNDECODABLE).toBe(c.eventId === null);
      }),
    );
  });
});

describe('parseReplayFilter', () => {
  it('takes nothing as every message', () => {
    const filter = right(parseReplayFilter({}));
    expect(filter).toEqual(NO_FILTER);
    expect(isUnfiltered(filter)).toBe(true);
    expect(describeFilter(filter, formatDuration)).toBe('every message');
  });

  it('parses kinds (case-insensitive, spaces and repeats allowed), errors and ages', () => {
    const filter = right(
      parseReplayFilter({
        kind: 'Bounce, complaint,,bounce,DELIVERYDELAY',
        error: 'decode,redrive',
        olderThan: '2h',
        newerThan: '7d',
        decodable: true,
      }),
    );
    expect([...filter.kinds!]).toEqual(['bounce', 'complaint', 'deliveryDelay']);
    expect([...filter.errors!]).toEqual(['decode', 'redrive']);
    expect(filter.olderThanMs).toBe(7_200_000);
    expect(filter.newerThanMs).toBe(604_800_000);
    expect(isUnfiltered(filter)).toBe(false);
    expect(describeFilter(filter, formatDuration)).toBe(
      'kind bounce, complaint, deliveryDelay; error decode, redrive; decodable now; older than 2h; newer than 7d',
    );
  });

  it.each([
    [
      { kind: 'bounces' },
      /^--kind: expected a comma-separated list of send, .*undecodable, got "bounces"$/,
    ],
    [{ kind: ' , ' }, /^--kind: expected .*, got an empty value$/],
    [
      { error: 'smtp' },
      /^--error: expected a comma-separated list of decode, signature, redrive, got "smtp"$/,
    ],
    [{ olderThan: '2 hours' }, /^--older-than: expected a duration such as/],
    [{ newerThan: '' }, /^--newer-than: expected a duration such as .*, got an empty value$/],
    [
      { olderThan: '2h', newerThan: '1h' },
      /^--older-than 2h and --newer-than 1h: no message can be both/,
    ],
    [{ olderThan: '1h', newerThan: '60m' }, /no message can be both/],
  ])('%j: %s', (input, message) => {
    expect(leftOf(parseReplayFilter(input))).toMatch(message);
  });
});

describe('matchesFilter', () => {
  const letter = (over: Partial<DeadLetterClass> = {}): DeadLetterClass => ({
    kind: 'bounce',
    eventId: 'bounce/x',
    decodeReason: null,
    error: 'decode',
    reason: 'unsupported',
    ageMs: 3_600_000,
    ...over,
  });
  const filter = (over: Partial<ReplayFilter>): ReplayFilter => ({ ...NO_FILTER, ...over });

  it('matches everything without criteria', () => {
    expect(matchesFilter(NO_FILTER, letter())).toBe(true);
    expect(
      matchesFilter(NO_FILTER, letter({ kind: UNDECODABLE, eventId: null, ageMs: null })),
    ).toBe(true);
  });

  it('requires every criterion given', () => {
    const f = filter({ kinds: new Set(['bounce', 'complaint']), errors: new Set(['decode']) });
    expect(matchesFilter(f, letter())).toBe(true);
    expect(matchesFilter(f, letter({ kind: 'delivery' }))).toBe(false);
    expect(matchesFilter(f, letter({ error: 'redrive', reason: null }))).toBe(false);
    expect(matchesFilter(f, letter({ kind: 'complaint', error: 'signature' }))).toBe(false);
  });

  it('selects undecodable messages by kind, and leaves them out with decodableOnly', () => {
    const broken = letter({ kind: UNDECODABLE, eventId: null, decodeReason: 'notJson' });
    expect(matchesFilter(filter({ kinds: new Set([UNDECODABLE]) }), broken)).toBe(true);
    expect(matchesFilter(filter({ decodableOnly: true }), broken)).toBe(false);
    expect(matchesFilter(filter({ decodableOnly: true }), letter())).toBe(true);
  });

  it('compares ages at the boundaries: older-than inclusive, newer-than exclusive', () => {
    const hour = 3_600_000;
    expect(matchesFilter(filter({ olderThanMs: hour }), letter({ ageMs: hour }))).toBe(true);
    expect(matchesFilter(filter({ olderThanMs: hour }), letter({ ageMs: hour - 1 }))).toBe(false);
    expect(matchesFilter(filter({ newerThanMs: hour }), letter({ ageMs: hour - 1 }))).toBe(true);
    expect(matchesFilter(filter({ newerThanMs: hour }), letter({ ageMs: hour }))).toBe(false);
  });

  it('leaves a message of unknown age out of any age filter', () => {
    expect(matchesFilter(filter({ olderThanMs: 0 }), letter({ ageMs: null }))).toBe(false);
    expect(matchesFilter(filter({ newerThanMs: 1e12 }), letter({ ageMs: null }))).toBe(false);
  });
});

describe('makeTally', () => {
  it('counts by group and detail, sorts rows, totals each outcome and keeps the oldest age', () => {
    const tally = makeTally(['moved', 'kept'] as const);
    tally.add('complaint', 'redrive', 'moved', 10);
    tally.add('bounce', 'decode/unsupported', 'moved', 5);
    tally.add('bounce', 'decode/unsupported', 'kept', 50);
    tally.add('bounce', 'decode/invalid', 'kept', null);
    expect(tally.rows()).toEqual([
      { group: 'bounce', detail: 'decode/invalid', counts: { moved: 0, kept: 1 }, oldestMs: null },
      {
        group: 'bounce',
        detail: 'decode/unsupported',
        counts: { moved: 1, kept: 1 },
        oldestMs: 50,
      },
      { group: 'complaint', detail: 'redrive', counts: { moved: 1, kept: 0 }, oldestMs: 10 },
    ]);
    expect([tally.total('moved'), tally.total('kept'), tally.count()]).toEqual([2, 2, 4]);
  });

  it('hands out copies: printing a row does not change the tally', () => {
    const tally = makeTally(['moved'] as const);
    tally.add('a', 'b', 'moved');
    (tally.rows()[0]!.counts as { moved: number }).moved = 99;
    expect(tally.rows()[0]!.counts.moved).toBe(1);
  });
});

describe('moveTaskState', () => {
  const report = (status: string) => ({ status, moved: 0, toMove: null, failureReason: null });
  it.each([
    ['RUNNING', 'running'],
    ['CANCELLING', 'running'],
    ['COMPLETED', 'completed'],
    ['CANCELLED', 'cancelled'],
    ['FAILED', 'failed'],
    ['SOMETHING_NEW', 'failed'],
  ])('%s is %s', (status, state) => {
    expect(moveTaskState(report(status))).toBe(state);
  });
});

describe('dead-letter attributes on the way back', () => {
  const attribute = (value: string) => ({ DataType: 'String', StringValue: value });
  const message = (attributes: Record<string, ReturnType<typeof attribute>>) => ({
    MessageId: 'm-1',
    Body: 'body',
    ReceiptHandle: 'r',
    Attributes: { SentTimestamp: '1717243200000', ApproximateReceiveCount: '3' },
    MessageAttributes: attributes,
  });

  it('reads what the worker recorded, the replay mark and SQS’s timestamps', () => {
    const letter = readDeadLetter(
      message({
        [ERROR_ATTRIBUTES.error]: attribute('decode'),
        [ERROR_ATTRIBUTES.reason]: attribute('invalid'),
        [ERROR_ATTRIBUTES.message]: attribute('at bounce: expected object'),
        [REPLAY_ATTRIBUTE]: attribute('run-1'),
      }),
    );
    expect(letter).toEqual({
      messageId: 'm-1',
      body: 'body',
      error: 'decode',
      reason: 'invalid',
      errorMessage: 'at bounce: expected object',
      replayRun: 'run-1',
      sentAtMs: 1_717_243_200_000,
      receiveCount: 3,
    });
    expect(readDeadLetter({ MessageId: 'x' })).toMatchObject({
      body: '',
      error: null,
      replayRun: null,
      sentAtMs: null,
      receiveCount: null,
    });
  });

  it('drops the worker’s error attributes and an older mark, keeps the message’s own, marks the run', () => {
    const attributes = replayAttributes(
      message({
        [ERROR_ATTRIBUTES.error]: attribute('decode'),
        [ERROR_ATTRIBUTES.reason]: attribute('invalid'),
        [ERROR_ATTRIBUTES.path]: attribute('-'),
        [ERROR_ATTRIBUTES.message]: attribute('x'),
        [REPLAY_ATTRIBUTE]: attribute('an-older-run'),
        tenant: attribute('acme'),
      }),
      'run-2',
    );
    expect(attributes).toEqual({
      tenant: attribute('acme'),
      [REPLAY_ATTRIBUTE]: attribute('run-2'),
    });
  });

  it('leaves a message with ten attributes of its own unmarked rather than over SQS’s limit', () => {
    const own = Object.fromEntries(
      Array.from({ length: 10 }, (_, i) => [`a${i}`, attribute(String(i))]),
    );
    const attributes = replayAttributes(message(own), 'run-3');
    expect(Object.keys(attributes)).toHaveLength(10);
    expect(attributes[REPLAY_ATTRIBUTE]).toBeUndefined();
  });
});
