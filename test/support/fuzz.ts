/**
 * Fuzzing the decode path: generated SQS bodies and the properties every decode must have.
 * Shared by `npm run fuzz` (bench/fuzz.ts, ≥ 100,000 inputs) and the smaller run inside
 * `npm test` (test/unit/decode/fuzz.test.ts).
 *
 * Inputs start from the real samples in test/fixtures (SES records, and the SNS envelopes SQS
 * delivers them in) and break them: fields dropped, replaced or retyped at random JSON paths,
 * strings stretched to hundreds of kilobytes, values nested thousands deep, prototype keys
 * (`__proto__`, `constructor`) added, key names misspelt, the JSON text cut short or spliced,
 * the envelope's `Message` made non-JSON, JSON of another type, or not a string at all. Fully
 * random JSON and random text are mixed in. Like the token dictionaries of AFL or libFuzzer,
 * stretched strings are built from tokens the decoder and the routing look for (`:identity/`,
 * `<`, `@`, `%`, `:`), so that a slow pattern or a badly escaped id is reached at all.
 *
 * `checkDecode` states the properties; a violation throws a `FuzzViolation`.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { decodeSqsBody } from '../../domain/decode';
import type { DomainEvent } from '../../domain/events';
import { QUEUE_NAMES, type JobSpec } from '../../domain/jobs';
import { eventId, metricsJob, routeEvent } from '../../domain/routing';

// ---------------------------------------------------------------------------------------------
// The properties

/** What a decode came to; `internal` is never among them: it is a violation. */
export const OUTCOMES = ['decoded', 'notJson', 'unsupported', 'invalid'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/**
 * The longest error message accepted: what the DLQ keeps of it (ses-worker.error-message,
 * adapters/sqs/messages.ts), so the text a dead-lettered message carries is never cut.
 */
export const MAX_ERROR_MESSAGE_LENGTH = 1024;

/** A broken property, with a short excerpt of the input. */
export class FuzzViolation extends Error {
  override readonly name = 'FuzzViolation';
}

/**
 * Characters SQS refuses in a message attribute value (its allowed set is #x9 | #xA | #xD |
 * #x20–#xD7FF | #xE000–#xFFFD | #x10000–#x10FFFF): an error message holding one could not be
 * sent to the DLQ with its reason, so the poison message would stay on the queue.
 */
const NOT_SQS_TEXT = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const LINE_BREAK = /[\r\n\u2028\u2029]/;

/**
 * Decodes `body` twice and checks every property; returns the outcome, or throws a
 * `FuzzViolation` naming the broken property.
 *
 * - decoding never throws;
 * - it is deterministic: the same body gives a deep-equal result;
 * - a failure has a reason among notJson | unsupported | invalid (`internal` is a decoder bug),
 *   a path, and a non-empty, one-line message that names that path, no longer than the DLQ
 *   keeps and holding only characters SQS accepts;
 * - a decoded event routes (routeEvent, eventId, and the batch's metricsJob) without throwing,
 *   to jobs BullMQ accepts: ids non-empty, without ':', not an integer, data JSON-serialisable.
 */
export function checkDecode(body: string): Outcome {
  const first = attempt('decodeSqsBody threw', () => decodeSqsBody(body));
  const second = attempt('decodeSqsBody threw the second time', () => decodeSqsBody(body));
  if (!isDeepStrictEqual(first, second)) {
    throw new FuzzViolation('not deterministic: the same body decoded to two different results');
  }
  if (first._tag === 'Right') {
    checkRouting(first.right);
    return 'decoded';
  }
  const { reason, path, message } = first.left;
  if (reason === 'internal') throw new FuzzViolation(`internal decoder failure: ${message}`);
  if (!(OUTCOMES as readonly string[]).includes(reason)) {
    throw new FuzzViolation(`unknown failure reason ${JSON.stringify(reason)}`);
  }
  if (typeof path !== 'string') throw new FuzzViolation(`path is ${typeof path}, not a string`);
  if (typeof message !== 'string' || message === '') {
    throw new FuzzViolation('the error message is empty');
  }
  if (LINE_BREAK.test(message)) {
    throw new FuzzViolation(`the error message has a line break: ${excerpt(message)}`);
  }
  const where = path === '' ? 'at the top level' : `at ${path}`;
  if (!message.startsWith(`${where}: expected `)) {
    throw new FuzzViolation(`the message does not name its path ${where}: ${excerpt(message)}`);
  }
  if (message.length > MAX_ERROR_MESSAGE_LENGTH) {
    throw new FuzzViolation(
      `the error message is ${message.length} characters (at most ${MAX_ERROR_MESSAGE_LENGTH}): ${excerpt(message)}`,
    );
  }
  const refused = NOT_SQS_TEXT.exec(message);
  if (refused !== null) {
    const code = refused[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    throw new FuzzViolation(`the error message holds U+${code}, which SQS refuses`);
  }
  return reason;
}

function checkRouting(event: DomainEvent): void {
  const jobs = attempt('routeEvent threw', () => routeEvent(event));
  attempt('eventId threw', () => eventId(event));
  const batch = attempt('metricsJob threw', () => metricsJob([event]));
  if (batch === null) throw new FuzzViolation('metricsJob made no job for one event');
  for (const job of [...jobs, batch]) checkJob(job);
}

function checkJob(job: JobSpec): void {
  const { id } = job;
  if (!(QUEUE_NAMES as readonly string[]).includes(job.queue)) {
    throw new FuzzViolation(`a job for an unknown queue ${JSON.stringify(job.queue)}`);
  }
  if (typeof id !== 'string' || id === '') throw new FuzzViolation('a job id is empty');
  if (id.includes(':')) throw new FuzzViolation(`a job id holds ':': ${excerpt(id)}`);
  if (`${parseInt(id, 10)}` === id) throw new FuzzViolation(`a job id is an integer: ${id}`);
  attempt(`the data of job ${excerpt(id)} is not JSON`, () => JSON.stringify(job.data));
}

function attempt<T>(what: string, run: () => T): T {
  try {
    return run();
  } catch (error) {
    const cause = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new FuzzViolation(`${what}: ${excerpt(cause)}`);
  }
}

/** At most `max` characters of `text`, JSON-quoted: safe to print whatever it holds. */
export function excerpt(text: string, max = 160): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return `${JSON.stringify(cut)}${text.length > max ? ` (${text.length} characters)` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// The samples

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };
type Segment = string | number;
type Path = readonly Segment[];

const SES_FOLDERS = ['event-publishing', 'notifications', 'receiving'] as const;

/** test/fixtures, from test/support or from its compiled copy in dist/test/support. */
function fixturesDir(): string {
  const candidates = [
    resolve(__dirname, '..', 'fixtures'),
    resolve(__dirname, '..', '..', '..', 'test', 'fixtures'),
  ];
  const found = candidates.find((dir) => existsSync(join(dir, 'sns')));
  if (found === undefined) throw new Error(`test/fixtures not found from ${__dirname}`);
  return found;
}

function readJsonFolder(dir: string): Json[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as Json);
}

export interface FuzzCorpus {
  /** Every SES record of test/fixtures (event publishing, notifications, receiving). */
  readonly records: readonly Json[];
  /** The SNS envelopes of test/fixtures/sns: notifications and (un)subscription confirmations. */
  readonly envelopes: readonly JsonObject[];
}

export function loadCorpus(): FuzzCorpus {
  const dir = fixturesDir();
  const records = SES_FOLDERS.flatMap((folder) => readJsonFolder(join(dir, folder)));
  const envelopes = readJsonFolder(join(dir, 'sns')).filter(isObject);
  if (records.length === 0 || envelopes.length === 0) throw new Error(`no fixtures in ${dir}`);
  return { records, envelopes };
}

// ---------------------------------------------------------------------------------------------
// Editing JSON at a path, copying only what changes

const isObject = (value: Json | undefined): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Sets an own, enumerable data property: `copy[key] = value` would make a `"__proto__"` key
 * the object's prototype instead, and JSON.stringify would then leave it out.
 */
function defineOwn(target: JsonObject, key: string, value: Json): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** A shallow copy that keeps `"__proto__"` keys as data (spread defines, it does not assign). */
const copyObject = (value: JsonObject): JsonObject => ({ ...value });

const REMOVE = Symbol('remove');
type Edited = Json | typeof REMOVE;

function updateAt(node: Json, path: Path, change: (old: Json) => Edited, depth = 0): Edited {
  if (depth === path.length) return change(node);
  const segment = path[depth]!;
  if (Array.isArray(node) && typeof segment === 'number' && segment < node.length) {
    const copy = node.slice();
    const next = updateAt(copy[segment]!, path, change, depth + 1);
    if (next === REMOVE) copy.splice(segment, 1);
    else copy[segment] = next;
    return copy;
  }
  if (isObject(node) && typeof segment === 'string' && Object.hasOwn(node, segment)) {
    const copy = copyObject(node);
    const next = updateAt(node[segment]!, path, change, depth + 1);
    if (next === REMOVE) delete copy[segment];
    else defineOwn(copy, segment, next);
    return copy;
  }
  return node; // an earlier edit changed the shape: nothing left to edit here
}

/** Beyond these the walk stops: a stretched array must not make every later pick cost more. */
const MAX_NODES = 4000;
const MAX_WALK_DEPTH = 64;

/** The paths of `root`'s nodes, the root first, in document order. */
function nodesOf(root: Json): Path[] {
  const paths: Path[] = [];
  const walk = (node: Json, path: Path) => {
    if (paths.length >= MAX_NODES) return;
    paths.push(path);
    if (path.length >= MAX_WALK_DEPTH) return;
    if (Array.isArray(node)) node.forEach((child, i) => walk(child, [...path, i]));
    else if (isObject(node)) for (const key of Object.keys(node)) walk(node[key]!, [...path, key]);
  };
  walk(root, []);
  return paths;
}

function valueAt(root: Json, path: Path): Json {
  let node: Json = root;
  for (const segment of path) {
    const next: Json | undefined = Array.isArray(node)
      ? node[segment as number]
      : isObject(node)
        ? node[segment as string]
        : undefined;
    if (next === undefined) return null;
    node = next;
  }
  return node;
}

// ---------------------------------------------------------------------------------------------
// Text spliced in after JSON.stringify: what JSON.stringify cannot (or should not) produce

/**
 * A placeholder string that `render` replaces with raw JSON text: nesting 100,000 deep (too
 * deep for JSON.stringify's recursion, not for JSON.parse's), and number literals that parse
 * to Infinity, 0 or -0.
 */
type Splice =
  | { readonly kind: 'deepArray' | 'deepObject'; readonly depth: number }
  | { readonly kind: 'hugeNumber' | 'tinyNumber' | 'negativeZero'; readonly depth: number };

const SPLICE_MARK = '\u0001fuzz-splice\u0001';
const spliceMarker = (splice: Splice): string => `${SPLICE_MARK}${splice.kind}:${splice.depth}`;
/** The marker as JSON.stringify writes it (\u0001 escaped), once or twice stringified. */
const SPLICE_IN_TEXT = /"\\u0001fuzz-splice\\u0001(\w+):(\d+)"/g;

function spliceText(kind: string, size: number): string {
  switch (kind) {
    case 'deepArray':
      return '['.repeat(size) + ']'.repeat(size);
    case 'deepObject':
      return '{"a":'.repeat(size) + 'null' + '}'.repeat(size);
    case 'hugeNumber':
      return `1${'0'.repeat(Math.min(size, 5000))}`;
    case 'tinyNumber':
      return `0.${'0'.repeat(Math.min(size, 5000))}1`;
    default:
      return '-0';
  }
}

/**
 * Splices per document at most: a stretched array of 10,000 markers would otherwise splice in
 * gigabytes. The markers beyond become `null`.
 */
const MAX_SPLICES = 4;

/** The JSON text of `value`, splices applied. */
export function render(value: Json, indent?: number): string {
  const text = JSON.stringify(value, null, indent);
  if (!text.includes('fuzz-splice')) return text;
  let spliced = 0;
  return text.replace(SPLICE_IN_TEXT, (_match, kind: string, size: string) =>
    ++spliced > MAX_SPLICES ? 'null' : spliceText(kind, Number(size)),
  );
}

// ---------------------------------------------------------------------------------------------
// Values to put where a field was

/** Values of the codecs' own enums and discriminators: a realistic kind of confusion. */
const KNOWN_STRINGS = [
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
  'Permanent',
  'Transient',
  'Undetermined',
  'General',
  'S3',
  'SNS',
  'Lambda',
  'Bounce',
  'Stop',
  'WorkMail',
  'UTF8',
  'BASE64',
  'PASS',
  'FAIL',
  'GRAY',
  'PROCESSING_FAILED',
  'OptIn',
  'OptOut',
] as const;

/** Keys that mean something to JavaScript objects; a JSON document may hold any of them. */
export const PROTOTYPE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  '__defineGetter__',
  'toJSON',
] as const;

/** Tokens the decoder, the address rules and the routing look for (cf. fuzzer dictionaries). */
const TOKENS = [
  'x',
  ' ',
  'é',
  '😀',
  '\u0000',
  '\n',
  '\u2028',
  '\uFFFF',
  '"',
  '\\',
  '<',
  '>',
  '@',
  '%',
  ':',
  '%3A',
  '.',
  '[',
  '{',
  'a@example.com',
  '<a@example.com>',
  ':identity/',
  'arn:aws:ses:us-east-1:123456789012:identity/',
  '2024-05-14T09:21:08.101Z',
  '0',
  '-',
  'Z',
  '__proto__',
] as const;

const DATE_TIMES = [
  '2024-05-14T09:21:08.101Z',
  '2024-05-14T09:21:08Z',
  '2018-10-08T14:05:45 +0000',
  '2024-02-29T23:59:60.999999999-12:00',
  '2023-02-29T00:00:00.000Z',
  '2017-02-30T00:00:00.000Z',
  '2024-05-14T24:00:00.000Z',
  '2024-13-01T00:00:00.000Z',
  '0000-01-01T00:00:00.000Z',
  '9999-12-31T23:59:59.999Z',
  '+275760-09-13T00:00:00.000Z',
  '2024-05-14T09:21:08.1010000000000Z',
  '2024-05-14 09:21:08',
  '1715678468101',
  'Tue, 14 May 2024 09:21:08 +0000',
  '٢٠٢٤-05-14T09:21:08.101Z',
];

const ADDRESSES = [
  'user@example.com',
  'User@Example.COM',
  '"Jane Doe" <Jane.Doe@Example.com>',
  'Jane <jane@example.com',
  '<>',
  '',
  ' ',
  'a@b',
  '@example.com',
  'user@',
  'a@b@c.example',
  '"quoted, comma"@example.com',
  '"unterminated@example.com',
  'user@[192.0.2.1]',
  'user@[IPv6:2001:db8::1]',
  'ü@exämple.com',
  'a:b@example.com',
  'a%b@example.com',
  `${'l'.repeat(300)}@example.com`,
  'user@example.com\n',
  'user@example.com, other@example.com',
];

const NUMBER_TEXTS = [
  '0',
  '-0',
  '412',
  ' 412 ',
  '4.12',
  '-1',
  '1e3',
  '0x10',
  'NaN',
  'Infinity',
  '1,000',
  '١٢',
];

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));

/** Strings in every plane, with lone surrogates, controls, line separators and BOMs. */
const unicodeString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc
    .array(
      fc.oneof(
        loneSurrogate,
        fc.constantFrom('\u0000', '\u2028', '\u2029', '\uFEFF', '\uFFFE', '\uFFFF', '\u200F'),
        fc.constantFrom('\u0301', '👩‍👩‍👧', 'İ', 'ß', 'ﬀ', '\r\n', '\t'),
        fc.string({ maxLength: 4 }),
      ),
      { maxLength: 12 },
    )
    .map((parts) => parts.join('')),
);

/** What ends a stretched string: a newline foils `.+$`, a lone `>` or quote ends no pair. */
const TAILS = ['', '\n', '>', ' ', 'x', '"'] as const;

/** `length` characters of `token` repeated, then a tail token. */
const stretchedString = (maxLength: number): fc.Arbitrary<string> =>
  fc
    .tuple(
      fc.constantFrom(...TOKENS),
      fc.integer({ min: 1_000, max: maxLength }),
      fc.constantFrom(...TAILS),
    )
    .map(([token, length, tail]) => token.repeat(Math.ceil(length / token.length)) + tail);

export interface FuzzOptions {
  /** The longest stretched string; ~1 MiB bodies are what SQS accepts at most. */
  readonly maxStretch: number;
  /** The deepest nesting spliced in. */
  readonly maxDepth: number;
}

export const FULL_SIZE: FuzzOptions = { maxStretch: 400_000, maxDepth: 100_000 };
/** For the run inside `npm test`: the same shapes, smaller. */
export const SMALL_SIZE: FuzzOptions = { maxStretch: 20_000, maxDepth: 5_000 };

function hostileValue(options: FuzzOptions): fc.Arbitrary<Json> {
  const splice = fc
    .record({
      kind: fc.constantFrom('deepArray', 'deepObject', 'hugeNumber', 'tinyNumber', 'negativeZero'),
      depth: fc.integer({ min: 1, max: options.maxDepth }),
    })
    .map((s) => spliceMarker(s as Splice));
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant(null) },
    { weight: 2, arbitrary: fc.boolean() },
    { weight: 2, arbitrary: fc.integer() },
    {
      weight: 2,
      arbitrary: fc.oneof(
        fc.double({ noNaN: true, noDefaultInfinity: true }),
        fc.constantFrom(-1, 0, 1e308, 5e-324, 2 ** 53 + 2, -(2 ** 31)),
      ),
    },
    { weight: 2, arbitrary: fc.string({ maxLength: 20 }) },
    { weight: 3, arbitrary: unicodeString },
    { weight: 3, arbitrary: fc.constantFrom(...KNOWN_STRINGS, ...PROTOTYPE_KEYS) },
    { weight: 2, arbitrary: fc.constantFrom(...DATE_TIMES) },
    { weight: 3, arbitrary: fc.constantFrom(...ADDRESSES) },
    { weight: 2, arbitrary: fc.constantFrom(...NUMBER_TEXTS) },
    { weight: 1, arbitrary: stretchedString(options.maxStretch) },
    { weight: 1, arbitrary: splice },
    { weight: 2, arbitrary: fc.constantFrom<Json>([], {}, [null], [[]], [{}], ['']) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom(...PROTOTYPE_KEYS), fc.jsonValue({ maxDepth: 2 }))
        .map(([key, value]) => {
          const object: JsonObject = {};
          defineOwn(object, key, value as Json);
          return object;
        }),
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Mutations, as data (a failing case prints readably and shrinks)

type Change =
  | { readonly kind: 'drop' }
  | { readonly kind: 'set'; readonly value: Json }
  /** The same content as another JSON type (number ↔ string, wrapped in an array or object…). */
  | { readonly kind: 'retype'; readonly variant: number }
  | {
      readonly kind: 'stretch';
      readonly length: number;
      readonly token: string;
      readonly tail: string;
    }
  | { readonly kind: 'nest'; readonly depth: number; readonly asArray: boolean }
  | { readonly kind: 'protoKey'; readonly key: string; readonly from: number | null }
  /** Another node of the same document in this place (`bounce` where `complaint` was…). */
  | { readonly kind: 'copy'; readonly from: number }
  | { readonly kind: 'renameKey'; readonly which: number; readonly variant: number };

interface Mutation {
  /** Which node: an index into the document's nodes (modulo their number). */
  readonly at: number;
  /** Pick among the nodes at most two deep, where the discriminators and required fields are. */
  readonly shallow: boolean;
  readonly change: Change;
}

function mutation(options: FuzzOptions): fc.Arbitrary<Mutation> {
  const change: fc.Arbitrary<Change> = fc.oneof(
    { weight: 4, arbitrary: fc.constant({ kind: 'drop' as const }) },
    {
      weight: 6,
      arbitrary: hostileValue(options).map((value) => ({ kind: 'set' as const, value })),
    },
    {
      weight: 4,
      arbitrary: fc.nat({ max: 7 }).map((variant) => ({ kind: 'retype' as const, variant })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(
          fc.integer({ min: 1_000, max: options.maxStretch }),
          fc.constantFrom(...TOKENS),
          fc.constantFrom(...TAILS),
        )
        .map(([length, token, tail]) => ({ kind: 'stretch' as const, length, token, tail })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.integer({ min: 1, max: Math.min(options.maxDepth, 2_000) }), fc.boolean())
        .map(([depth, asArray]) => ({ kind: 'nest' as const, depth, asArray })),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.constantFrom(...PROTOTYPE_KEYS), fc.option(fc.nat(), { nil: null }))
        .map(([key, from]) => ({ kind: 'protoKey' as const, key, from })),
    },
    { weight: 2, arbitrary: fc.nat().map((from) => ({ kind: 'copy' as const, from })) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(fc.nat(), fc.nat({ max: 5 }))
        .map(([which, variant]) => ({ kind: 'renameKey' as const, which, variant })),
    },
  );
  return fc.record({ at: fc.nat(), shallow: fc.boolean(), change });
}

function retype(old: Json, variant: number): Json {
  switch (variant) {
    case 0:
      return null;
    case 1: // as text: 412 → "412", true → "true", an object → its JSON
      return typeof old === 'string' ? old : JSON.stringify(old);
    case 2:
      return [old];
    case 3:
      return { value: old };
    case 4: // as a number
      if (typeof old === 'number') return -old;
      if (typeof old === 'string') {
        const n = Number(old);
        return Number.isFinite(n) ? n : old.length;
      }
      return Array.isArray(old) ? old.length : old === null ? 0 : 1;
    case 5: // as a boolean
      return typeof old === 'boolean' ? !old : Boolean(old);
    case 6: // an object as the array of its values, an array as an object keyed by index
      if (Array.isArray(old)) return Object.fromEntries(old.map((v, i) => [String(i), v]));
      if (isObject(old)) return Object.values(old);
      return typeof old === 'string' ? old.split('') : [];
    default: // a string padded or cased differently; anything else as its JSON text, padded
      return typeof old === 'string' ? ` ${old.toUpperCase()} ` : ` ${JSON.stringify(old)} `;
  }
}

/** About `length` characters more of the same: a long string, array or object. */
function stretch(old: Json, length: number, token: string, tail: string): Json {
  // Copies of a big element (the whole document wrapped in an array) would be too much.
  const copiesOf = (elements: readonly Json[], max: number) => {
    const largest = Math.max(1, ...elements.map((e) => JSON.stringify(e).length));
    return Math.min(max, Math.ceil(length / largest));
  };
  if (Array.isArray(old)) {
    const copies = copiesOf(old, 10_000);
    return Array.from({ length: copies }, (_, i) => old[i % old.length] ?? null);
  }
  if (isObject(old)) {
    const copy = copyObject(old);
    const first = Object.values(old)[0] ?? null;
    for (let i = 0; i < copiesOf([first], 5_000); i++) copy[`k${i}`] = first;
    return copy;
  }
  const base = typeof old === 'string' && old !== '' ? old.slice(0, 100) : token;
  return (token + base).repeat(Math.ceil(length / (token.length + base.length))) + tail;
}

function nest(old: Json, depth: number, asArray: boolean): Json {
  let value = old;
  for (let i = 0; i < depth; i++) value = asArray ? [value] : { a: value };
  return value;
}

const RENAMES: ReadonlyArray<(key: string) => string> = [
  (k) => k.charAt(0).toUpperCase() + k.slice(1),
  (k) => k.toLowerCase(),
  (k) => `${k} `,
  (k) => `${k}\u0000`,
  (k) => k.slice(0, -1),
  (k) => k.normalize('NFD').replace(/e/g, 'é'),
];

function renameKey(old: Json, which: number, variant: number): Json {
  if (!isObject(old)) return old;
  const keys = Object.keys(old);
  if (keys.length === 0) return old;
  const from = keys[which % keys.length]!;
  const to = RENAMES[variant % RENAMES.length]!(from);
  const renamed: JsonObject = {};
  for (const key of keys) defineOwn(renamed, key === from ? to : key, old[key]!);
  return renamed;
}

function applyChange(old: Json, change: Change, document: Json, nodes: readonly Path[]): Edited {
  const node = (n: number) => valueAt(document, nodes[n % nodes.length]!);
  switch (change.kind) {
    case 'drop':
      return REMOVE;
    case 'set':
      return change.value;
    case 'retype':
      return retype(old, change.variant);
    case 'stretch':
      return stretch(old, change.length, change.token, change.tail);
    case 'nest':
      return nest(old, change.depth, change.asArray);
    case 'protoKey': {
      const value = change.from === null ? { polluted: true } : node(change.from);
      const target = isObject(old) ? copyObject(old) : {};
      defineOwn(target, change.key, value);
      return target;
    }
    case 'copy':
      return node(change.from);
    case 'renameKey':
      return renameKey(old, change.which, change.variant);
  }
}

export function mutate(document: Json, mutations: readonly Mutation[]): Json {
  let current = document;
  for (const { at, shallow, change } of mutations) {
    const all = nodesOf(current);
    const candidates = shallow ? all.filter((p) => p.length <= 2) : all;
    const path = candidates[at % candidates.length]!;
    const edited = updateAt(current, path, (old) => applyChange(old, change, current, all));
    current = edited === REMOVE ? null : edited;
  }
  return current;
}

// ---------------------------------------------------------------------------------------------
// Text mutations (after rendering): JSON cut short, spliced, with junk in it

type TextEdit =
  | { readonly kind: 'truncate'; readonly at: number }
  | { readonly kind: 'delete'; readonly at: number; readonly length: number }
  | { readonly kind: 'insert'; readonly at: number; readonly text: string }
  | { readonly kind: 'duplicate'; readonly at: number; readonly length: number }
  | { readonly kind: 'wrap'; readonly before: string; readonly after: string };

const textEdit: fc.Arbitrary<TextEdit> = fc.oneof(
  fc.nat().map((at) => ({ kind: 'truncate' as const, at })),
  fc
    .tuple(fc.nat(), fc.integer({ min: 1, max: 40 }))
    .map(([at, length]) => ({ kind: 'delete' as const, at, length })),
  fc
    .tuple(
      fc.nat(),
      fc.oneof(
        fc.constantFrom('{', '}', '[', ']', '"', ':', ',', '\\', '\\u', 'null', '\u0000', '\uFEFF'),
        fc.constantFrom('"__proto__":{},', '"eventType":"Bounce",', '"Type":"Notification",'),
        fc.string({ maxLength: 8 }),
        unicodeString,
      ),
    )
    .map(([at, text]) => ({ kind: 'insert' as const, at, text })),
  fc
    .tuple(fc.nat(), fc.integer({ min: 1, max: 200 }))
    .map(([at, length]) => ({ kind: 'duplicate' as const, at, length })),
  fc
    .tuple(
      fc.constantFrom('', ' ', '\n', '\uFEFF', '\u0000', '[', '"'),
      fc.constantFrom('', ' ', ',', ']', '}'),
    )
    .map(([before, after]) => ({ kind: 'wrap' as const, before, after })),
);

/** `arbitrary` once in `odds` draws, else null. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, odds: number): fc.Arbitrary<T | null> =>
  fc.oneof({ weight: odds - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary });

export function editText(text: string, edit: TextEdit): string {
  const at = (n: number) => (text.length === 0 ? 0 : n % text.length);
  switch (edit.kind) {
    case 'truncate':
      return text.slice(0, at(edit.at));
    case 'delete':
      return text.slice(0, at(edit.at)) + text.slice(at(edit.at) + edit.length);
    case 'insert':
      return text.slice(0, at(edit.at)) + edit.text + text.slice(at(edit.at));
    case 'duplicate': {
      const from = at(edit.at);
      return text.slice(0, from + edit.length) + text.slice(from);
    }
    case 'wrap':
      return edit.before + text + edit.after;
  }
}

// ---------------------------------------------------------------------------------------------
// Whole inputs

/** Which generator an input came from: the bench counts outcomes per source. */
export const SOURCES = [
  /** An SES record, mutated, as the SQS body (raw message delivery). */
  'raw',
  /** An SNS Notification whose Message is a mutated SES record, or something else entirely. */
  'enveloped',
  /** An SNS envelope (any type) with its own fields mutated. */
  'envelope',
  /** Random JSON, some of it with the discriminators and field names the codecs know. */
  'randomJson',
  /** Random text. */
  'randomText',
] as const;
export type Source = (typeof SOURCES)[number];

export interface FuzzInput {
  readonly source: Source;
  readonly body: string;
}

function mutatedRecordText(corpus: FuzzCorpus, options: FuzzOptions): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.nat({ max: corpus.records.length - 1 }),
      fc.array(mutation(options), { minLength: 0, maxLength: 3 }),
      sometimes(textEdit, 6),
      // Pretty-printed as the fixtures are, sometimes (not when nested: whitespace² of depth).
      fc.constantFrom(false, false, false, true),
    )
    .map(([index, mutations, edit, pretty]) => {
      const indent = pretty && !mutations.some((m) => m.change.kind === 'nest') ? 2 : undefined;
      const text = render(mutate(corpus.records[index]!, mutations), indent);
      return edit === null ? text : editText(text, edit);
    });
}

/** What a Notification's `Message` may be: text of any kind, or not text at all. */
function messageValue(corpus: FuzzCorpus, options: FuzzOptions): fc.Arbitrary<Json | undefined> {
  const record = fc.nat({ max: corpus.records.length - 1 }).map((i) => corpus.records[i]!);
  return fc.oneof(
    { weight: 12, arbitrary: mutatedRecordText(corpus, options) },
    { weight: 2, arbitrary: fc.oneof(unicodeString, fc.string({ maxLength: 60 })) },
    // JSON text of another type than an object
    {
      weight: 2,
      arbitrary: fc
        .oneof(
          fc.constantFrom<Json>(null, true, 0, -0.5, '', 'Bounce', [], [{}]),
          fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>,
          record.map((r) => [r]),
        )
        .map((value) => JSON.stringify(value)),
    },
    // JSON-encoded twice: a string of JSON text, as a broken publisher would send it
    { weight: 1, arbitrary: record.map((r) => JSON.stringify(JSON.stringify(r))) },
    // An SNS envelope inside the envelope
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.nat({ max: corpus.envelopes.length - 1 }), record)
        .map(([e, r]) => JSON.stringify({ ...corpus.envelopes[e]!, Message: JSON.stringify(r) })),
    },
    // Not a string at all: the SES object itself, a number, an array…
    {
      weight: 2,
      arbitrary: fc.oneof(record, hostileValue(options), fc.constantFrom<Json>(0, [], {}, null)),
    },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
}

const NOTIFICATION = (e: JsonObject) => e.Type === 'Notification';

function envelopedRecord(corpus: FuzzCorpus, options: FuzzOptions): fc.Arbitrary<string> {
  const notifications = corpus.envelopes.filter(NOTIFICATION);
  return fc
    .tuple(
      fc.nat({ max: notifications.length - 1 }),
      messageValue(corpus, options),
      sometimes(textEdit, 8),
    )
    .map(([index, message, edit]) => {
      const envelope = copyObject(notifications[index]!);
      if (message === undefined) delete envelope.Message;
      else envelope.Message = message;
      const text = render(envelope);
      return edit === null ? text : editText(text, edit);
    });
}

function mutatedEnvelope(corpus: FuzzCorpus, options: FuzzOptions): fc.Arbitrary<string> {
  return fc
    .tuple(
      fc.nat({ max: corpus.envelopes.length - 1 }),
      fc.nat({ max: corpus.records.length - 1 }),
      fc.array(mutation(options), { minLength: 1, maxLength: 3 }),
      sometimes(textEdit, 4),
    )
    .map(([e, r, mutations, edit]) => {
      const envelope = copyObject(corpus.envelopes[e]!);
      // Notifications carry an SES record; confirmations keep their own text.
      if (NOTIFICATION(envelope)) envelope.Message = JSON.stringify(corpus.records[r]!);
      const text = render(mutate(envelope, mutations));
      return edit === null ? text : editText(text, edit);
    });
}

/** Field names and discriminator values the codecs know, around random values. */
const discriminatedJson: fc.Arbitrary<string> = fc
  .tuple(
    fc.constantFrom('eventType', 'notificationType', 'Type'),
    fc.constantFrom(...KNOWN_STRINGS, ...PROTOTYPE_KEYS),
    fc.dictionary(
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
        'SubscribeURL',
        'Token',
        ...PROTOTYPE_KEYS,
      ),
      fc.jsonValue({ maxDepth: 4 }),
      { maxKeys: 8 },
    ),
  )
  .map(([key, value, rest]) => {
    const object = copyObject(rest as JsonObject);
    defineOwn(object, key, value);
    return JSON.stringify(object);
  });

const randomText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 100 }),
  unicodeString,
  // JSON-looking noise
  fc
    .array(
      fc.constantFrom(
        '{',
        '}',
        '[',
        ']',
        '"',
        ':',
        ',',
        '\\',
        'a',
        '1',
        ' ',
        'null',
        'true',
        '-',
        'e',
      ),
      { maxLength: 60 },
    )
    .map((parts) => parts.join('')),
  fc.constantFrom('', ' ', '\n', '\uFEFF{}', 'null', 'undefined', '{}', '[]', '""'),
);

/** Every kind of input, in the proportions the bench and the test use. */
export function fuzzInput(
  corpus: FuzzCorpus,
  options: FuzzOptions = FULL_SIZE,
): fc.Arbitrary<FuzzInput> {
  const from = (source: Source, body: fc.Arbitrary<string>) =>
    body.map((text): FuzzInput => ({ source, body: text }));
  return fc.oneof(
    { weight: 30, arbitrary: from('raw', mutatedRecordText(corpus, options)) },
    { weight: 40, arbitrary: from('enveloped', envelopedRecord(corpus, options)) },
    { weight: 14, arbitrary: from('envelope', mutatedEnvelope(corpus, options)) },
    {
      weight: 9,
      arbitrary: from(
        'randomJson',
        fc.oneof(
          discriminatedJson,
          fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)),
        ),
      ),
    },
    { weight: 7, arbitrary: from('randomText', randomText) },
  );
}

// ---------------------------------------------------------------------------------------------
// The regression corpus

/**
 * Inputs that once broke a property, replayed before the generated ones on every run (what a
 * fuzzer's corpus keeps): found by fuzzing, each fixed in domain/. Their size follows `options`:
 * the bench checks them large under its time bound, the unit test small.
 */
export function regressionInputs(options: FuzzOptions): ReadonlyArray<readonly [string, string]> {
  const sendRecord = (mail: JsonObject) =>
    JSON.stringify({
      eventType: 'Send',
      mail: {
        timestamp: '2024-05-14T09:21:08.101Z',
        messageId: 'regression-1',
        source: 'Sender <sender@example.org>',
        destination: ['user@example.com'],
        ...mail,
      },
    });
  // 256 KiB (SQS's limit until 2025, now 1 MiB): seconds before the fix, not minutes, so a
  // run that meets it fails on the time bound and goes on.
  const long = Math.min(options.maxStretch * 3, 262_144);
  return [
    // Quoted raw in the error message: a line break, and characters SQS refuses.
    ['a value holding U+2028', '{"eventType":"a\\u2028b"}'],
    ['a value holding U+FFFF', '{"eventType":"a\\uffffb"}'],
    // The whole key went into the path: a message as long as the key.
    ['a tag key of 5,000 characters', sendRecord({ tags: { ['k'.repeat(5_000)]: 'not a list' } })],
    ['a tag key of emoji, cut mid-pair', sendRecord({ tags: { ['😀'.repeat(1_000)]: 0 } })],
    // `/:identity\/(.+)$/` in sendingIdentity (domain/counting.ts, metricsJob): quadratic.
    [
      'a sourceArn repeating ":identity/", ending in a newline',
      sendRecord({ sourceArn: `${':identity/'.repeat(Math.floor(long / 10))}\n` }),
    ],
  ];
}
