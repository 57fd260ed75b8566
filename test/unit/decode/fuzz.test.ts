/**
 * The fuzz run inside `npm test`: a few thousand generated bodies (test/support/fuzz.ts) against
 * the full decode path, every property checked on each. `npm run fuzz` runs the same generators
 * and properties on 100,000 inputs, with a time bound per input and a memory bound.
 */
import fc from 'fast-check';
import { decodeSqsBody } from '../../../domain/decode';
import {
  MAX_ERROR_MESSAGE_LENGTH,
  OUTCOMES,
  PROTOTYPE_KEYS,
  SMALL_SIZE,
  SOURCES,
  checkDecode,
  editText,
  fuzzInput,
  loadCorpus,
  mutate,
  regressionInputs,
  render,
  type Outcome,
  type Source,
} from '../../support/fuzz';

const corpus = loadCorpus();
const RUNS = 3_000;

describe('fuzzing decodeSqsBody', () => {
  it('holds every property on generated bodies, and the generators reach every outcome', () => {
    const seen = new Map<Source, Set<Outcome>>(SOURCES.map((s) => [s, new Set()]));
    fc.assert(
      fc.property(fuzzInput(corpus, SMALL_SIZE), ({ source, body }) => {
        seen.get(source)!.add(checkDecode(body));
      }),
      { numRuns: RUNS },
    );
    const all = new Set([...seen.values()].flatMap((outcomes) => [...outcomes]));
    expect([...all].sort()).toEqual([...OUTCOMES].sort());
    // Mutated samples still decode sometimes: the mutations are not all fatal at the root.
    expect([...seen.get('raw')!]).toContain('decoded');
    expect([...seen.get('enveloped')!]).toEqual(expect.arrayContaining([...OUTCOMES]));
  });
});

describe('regressions found by fuzzing', () => {
  it.each(regressionInputs(SMALL_SIZE))(
    'the corpus input "%s" holds every property',
    (_name, body) => {
      expect(OUTCOMES).toContain(checkDecode(body));
    },
  );

  const sendRecord = (tags: Record<string, unknown>) =>
    JSON.stringify({
      eventType: 'Send',
      mail: {
        timestamp: '2024-05-14T09:21:08.101Z',
        messageId: 'm-1',
        source: 'sender@example.com',
        destination: ['user@example.com'],
        tags,
      },
    });
  const failure = (body: string) => {
    const result = decodeSqsBody(body);
    if (result._tag === 'Right') throw new Error('decoded');
    return result.left;
  };

  it.each([
    ['U+2028', '\u2028', '\\u2028'],
    ['U+2029', '\u2029', '\\u2029'],
    ['U+FFFE', '\ufffe', '\\ufffe'],
    ['U+FFFF', '\uffff', '\\uffff'],
  ])(
    'a value holding %s is quoted escaped: one line, and text SQS accepts',
    (_name, raw, shown) => {
      const error = failure(JSON.stringify({ eventType: `a${raw}b` }));
      expect(error.message).toContain(`got string "a${shown}b"`);
      expect(error.message).not.toContain(raw);
      expect(checkDecode(JSON.stringify({ eventType: `a${raw}b` }))).toBe('unsupported');
    },
  );

  it('a map key of any length is shortened in the path, so the message stays short', () => {
    const key = 'k'.repeat(5_000);
    const error = failure(sendRecord({ [key]: 'not an array' }));
    expect(error.path).toBe(`mail.tags["${'k'.repeat(60)}…"]`);
    expect(error.message.length).toBeLessThan(300);
  });

  it('a shortened key never leaves half of a surrogate pair unescaped', () => {
    const key = '😀'.repeat(1_000);
    const error = failure(sendRecord({ [`${key}\u2028`]: 'not an array' }));
    expect(error.message).not.toMatch(/[\ud800-\udfff]/u);
    expect(error.message.length).toBeLessThan(MAX_ERROR_MESSAGE_LENGTH);
  });

  it('a short key is still shown whole, quoted when it must be', () => {
    expect(failure(sendRecord({ 'ses:configuration-set': 'x' })).path).toBe(
      'mail.tags["ses:configuration-set"]',
    );
    expect(failure(sendRecord({ plain: 'x' })).path).toBe('mail.tags.plain');
  });
});

describe('the generators make what they claim to', () => {
  const bounce = corpus.records.find(
    (r) => typeof r === 'object' && r !== null && 'eventType' in r && r.eventType === 'Bounce',
  )!;

  it.each(PROTOTYPE_KEYS)('a %s key is written as data, not taken as structure', (key) => {
    const mutated = mutate(bounce, [
      { at: 0, shallow: true, change: { kind: 'protoKey', key, from: null } },
    ]);
    const text = render(mutated);
    expect(text).toContain(`"${key}":{"polluted":true}`);
    expect(Object.hasOwn(JSON.parse(text) as object, key)).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('splices nesting deeper than JSON.stringify could write', () => {
    const text = render({ a: '\u0001fuzz-splice\u0001deepArray:50000' });
    expect(text).toBe(`{"a":${'['.repeat(50_000)}${']'.repeat(50_000)}}`);
    expect(checkDecode(text)).toBe('invalid');
  });

  it('splices at most four times per document, however many markers a stretch copied', () => {
    const text = render(Array<string>(10_000).fill('\u0001fuzz-splice\u0001deepArray:3'));
    expect(text.match(/\[\[\[\]\]\]/g)).toHaveLength(4);
    expect(text.match(/null/g)).toHaveLength(10_000 - 4);
  });

  it('splices inside an SNS Message too, once the Message is stringified', () => {
    const message = render({ eventType: 'Bounce', mail: '\u0001fuzz-splice\u0001hugeNumber:400' });
    expect(message).toBe(`{"eventType":"Bounce","mail":1${'0'.repeat(400)}}`);
  });

  it('drops, retypes and renames at the path it picks, copying only what changes', () => {
    const original = JSON.stringify(bounce);
    const dropped = mutate(bounce, [{ at: 1, shallow: true, change: { kind: 'drop' } }]);
    expect(Object.keys(dropped as object)).toHaveLength(Object.keys(bounce as object).length - 1);
    const renamed = mutate(bounce, [
      { at: 0, shallow: true, change: { kind: 'renameKey', which: 0, variant: 0 } },
    ]);
    expect(Object.keys(renamed as object)).toContain('EventType');
    expect(JSON.stringify(bounce)).toBe(original);
  });

  it('cuts and splices the text', () => {
    expect(editText('{"a":1}', { kind: 'truncate', at: 3 })).toBe('{"a');
    expect(editText('{"a":1}', { kind: 'insert', at: 1, text: 'X' })).toBe('{X"a":1}');
    expect(editText('{"a":1}', { kind: 'duplicate', at: 1, length: 3 })).toBe('{"a""a":1}');
  });
});
