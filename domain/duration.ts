/**
 * Durations as operators type them on the command line: `90s`, `15m`, `2h`, `7d`, `1h30m`.
 * Parsing never throws; a bad text is a one-line reason naming what was expected.
 */
import { left, right, type Either } from 'fp-ts/Either';

const UNIT_MS = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
} as const;
type Unit = keyof typeof UNIT_MS;

/** `ms` before `m`: the alternation must try the longer unit first. */
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/y;
const EXPECTED = 'a duration such as 90s, 15m, 2h, 7d or 1h30m';
/** Far beyond any queue's retention (SQS keeps messages 14 days at most); stops typos like 2000000d. */
const MAX_MS = 366 * UNIT_MS.d;

/** Milliseconds, or why the text is not a duration. */
export function parseDuration(text: string): Either<string, number> {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === '') return left(`expected ${EXPECTED}, got an empty value`);
  let total = 0;
  let at = 0;
  PART.lastIndex = 0;
  while (at < trimmed.length) {
    PART.lastIndex = at;
    const match = PART.exec(trimmed);
    if (match === null) return left(`expected ${EXPECTED}, got ${JSON.stringify(text)}`);
    total += Number(match[1]) * UNIT_MS[match[2] as Unit];
    at = PART.lastIndex;
  }
  if (total > MAX_MS) return left(`expected at most 366d, got ${JSON.stringify(text)}`);
  return right(Math.round(total));
}

/** `93784000` → `1d2h3m4s`; below a second, `250ms`. For summaries and progress lines. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  let rest = Math.floor(ms / 1000);
  const parts: string[] = [];
  for (const [unit, seconds] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (rest >= seconds) {
      parts.push(`${Math.floor(rest / seconds)}${unit}`);
      rest %= seconds;
    }
  }
  if (rest > 0 || parts.length === 0) parts.push(`${rest}s`);
  return parts.join('');
}

/**
 * How long to wait before handling more, so that `done` items since `startedAtMs` average at
 * most `perSecond`: the next batch is due once the ones before it have had their share of time.
 */
export function paceDelayMs(
  perSecond: number,
  startedAtMs: number,
  done: number,
  nowMs: number,
): number {
  return Math.max(0, startedAtMs + (done / perSecond) * 1000 - nowMs);
}
