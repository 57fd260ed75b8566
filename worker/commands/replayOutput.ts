/** Printing for the replay commands: aligned tables, JSON lines, the tally by group and detail. */
import type { Tally } from '../../domain/deadLetters';
import { formatDuration } from '../../domain/duration';

export const jsonLine = (value: unknown): string => `${JSON.stringify(value)}\n`;

export const count = (n: number): string => n.toLocaleString('en-US');

/** `noun(1, 'message')` → `message`: the noun agreeing with a count. */
export const noun = (n: number, singular: string, plural = `${singular}s`): string =>
  n === 1 ? singular : plural;

/** Columns padded to their widest cell; numeric columns (`right`) aligned right. */
export function table(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  right: ReadonlySet<number>,
): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (right.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].map((l) => `  ${l}\n`).join('');
}

export interface TallyColumn<O extends string> {
  readonly outcome: O;
  readonly label: string;
  /** Shown even when its total is zero. */
  readonly always: boolean;
}

/**
 * The summary "by kind and error" (or job name and reason): one row per pair, one column per
 * outcome that happened, a total row; `oldest` adds each row's oldest age.
 */
export function tallyTable<O extends string>(
  tally: Tally<O>,
  headers: readonly [string, string],
  columns: readonly TallyColumn<O>[],
  options: { oldest?: boolean } = {},
): string {
  const shown = columns.filter((c) => c.always || tally.total(c.outcome) > 0);
  const rows = tally
    .rows()
    .map((row) => [
      row.group,
      row.detail,
      ...shown.map((c) => count(row.counts[c.outcome])),
      ...(options.oldest ? [row.oldestMs === null ? '?' : formatDuration(row.oldestMs)] : []),
    ]);
  const totals = [
    'total',
    '',
    ...shown.map((c) => count(tally.total(c.outcome))),
    ...(options.oldest ? [''] : []),
  ];
  const numeric = new Set(shown.map((_, i) => i + 2));
  if (options.oldest) numeric.add(shown.length + 2);
  return table(
    [...headers, ...shown.map((c) => c.label), ...(options.oldest ? ['oldest'] : [])],
    [...rows, totals],
    numeric,
  );
}

/** The first line of a failure reason, short enough for a table cell. */
export function shortReason(reason: string, max = 60): string {
  const first = reason.split('\n', 1)[0]!.trim();
  if (first === '') return '(no reason)';
  return first.length > max ? `${first.slice(0, max - 1)}…` : first;
}
