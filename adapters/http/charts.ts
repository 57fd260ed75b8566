/**
 * Server-rendered SVG charts for the status page: no script, no external asset, readable
 * without a browser's help. Each data mark carries `data-series` (lines) or `data-bar` (bars)
 * so a test, or a curious operator, can find it.
 */

export interface LineSeries {
  /** What the data marks carry (`data-series`): an identifier, for tests and scripts. */
  readonly name: string;
  /** What the legend shows people; the name when absent. */
  readonly label?: string;
  readonly color: string;
  /** One value per x position, oldest first; null leaves a gap. */
  readonly values: readonly (number | null)[];
}

export interface ThresholdLine {
  readonly label: string;
  readonly value: number;
  readonly color: string;
}

export interface LineChartOptions {
  readonly title: string;
  readonly series: readonly LineSeries[];
  /** Tick labels under the x axis, at value indexes. */
  readonly xTicks: readonly { readonly index: number; readonly text: string }[];
  readonly formatY: (value: number) => string;
  readonly thresholds?: readonly ThresholdLine[];
  readonly width?: number;
  readonly height?: number;
}

const MARGIN = { top: 12, right: 16, bottom: 26, left: 64 };

export function lineChart(options: LineChartOptions): string {
  const width = options.width ?? 760;
  const height = options.height ?? 220;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const points = Math.max(1, ...options.series.map((s) => s.values.length));
  const thresholds = options.thresholds ?? [];
  const dataMax = Math.max(
    0,
    ...options.series.flatMap((s) => s.values.filter((v): v is number => v !== null)),
    ...thresholds.map((t) => t.value),
  );
  const yMax = niceCeiling(dataMax);
  // Gridlines at round values: fifths of 1, 2.5, 5 or 10 × 10^n; quarters of 2 × 10^n.
  const intervals = Math.round(yMax / 10 ** Math.floor(Math.log10(yMax))) === 2 ? 4 : 5;
  const x = (i: number) => MARGIN.left + (points === 1 ? plotW / 2 : (i / (points - 1)) * plotW);
  const y = (v: number) => MARGIN.top + plotH - (v / yMax) * plotH;
  const round = (n: number) => Math.round(n * 10) / 10;

  const grid = Array.from({ length: intervals + 1 }, (_, i) => {
    const value = (yMax * i) / intervals;
    const gy = round(y(value));
    return (
      `<line x1="${MARGIN.left}" x2="${width - MARGIN.right}" y1="${gy}" y2="${gy}" class="grid"/>` +
      `<text x="${MARGIN.left - 6}" y="${gy + 4}" text-anchor="end">${escapeHtml(options.formatY(value))}</text>`
    );
  });
  const ticks = options.xTicks.map(
    (tick) =>
      `<text x="${round(x(tick.index))}" y="${height - 8}" text-anchor="middle">${escapeHtml(tick.text)}</text>`,
  );
  const limits = thresholds.map((t) => {
    const ty = round(y(t.value));
    return (
      `<line x1="${MARGIN.left}" x2="${width - MARGIN.right}" y1="${ty}" y2="${ty}" stroke="${t.color}" stroke-dasharray="6 4" data-threshold="${escapeHtml(t.label)}"/>` +
      `<text x="${width - MARGIN.right - 4}" y="${ty - 4}" text-anchor="end" fill="${t.color}">${escapeHtml(t.label)}</text>`
    );
  });
  const lines = options.series.flatMap((s) =>
    segments(s.values).map((segment) => {
      const coordinates = segment
        .map(({ index, value }) => `${round(x(index))},${round(y(value))}`)
        .join(' ');
      // A lone point would draw nothing: a dot shows it.
      return segment.length === 1
        ? `<circle cx="${round(x(segment[0]!.index))}" cy="${round(y(segment[0]!.value))}" r="2.5" fill="${s.color}" data-series="${escapeHtml(s.name)}"/>`
        : `<polyline fill="none" stroke="${s.color}" stroke-width="1.8" points="${coordinates}" data-series="${escapeHtml(s.name)}"/>`;
    }),
  );
  const legend = legendOf([
    ...options.series.map((s) => ({ name: s.label ?? s.name, color: s.color })),
    ...thresholds.map((t) => ({ name: t.label, color: t.color, dashed: true })),
  ]);
  return (
    `<figure><figcaption>${escapeHtml(options.title)}${legend}</figcaption>` +
    `<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(options.title)}">` +
    `<title>${escapeHtml(options.title)}</title>${grid.join('')}${ticks.join('')}${limits.join('')}${lines.join('')}</svg></figure>`
  );
}

export interface Bar {
  readonly label: string;
  /** Null: not available (shown as such, no bar). */
  readonly value: number | null;
  readonly color: string;
}

export function barChart(options: {
  readonly title: string;
  readonly bars: readonly Bar[];
  readonly width?: number;
}): string {
  const width = options.width ?? 360;
  const rowH = 26;
  const labelW = 130;
  const valueW = 70;
  const height = options.bars.length * rowH + 8;
  const max = Math.max(1, ...options.bars.map((b) => b.value ?? 0));
  const rows = options.bars.map((bar, i) => {
    const top = 4 + i * rowH;
    const barW =
      bar.value === null || bar.value <= 0
        ? 0
        : Math.max(2, Math.round((bar.value / max) * (width - labelW - valueW)));
    const text = bar.value === null ? 'n/a' : formatCount(bar.value);
    return (
      `<text x="${labelW - 8}" y="${top + 17}" text-anchor="end">${escapeHtml(bar.label)}</text>` +
      `<rect x="${labelW}" y="${top + 4}" width="${barW}" height="${rowH - 8}" fill="${bar.color}" data-bar="${escapeHtml(bar.label)}" data-value="${bar.value ?? ''}"/>` +
      `<text x="${labelW + barW + 6}" y="${top + 17}">${text}</text>`
    );
  });
  return (
    `<figure><figcaption>${escapeHtml(options.title)}</figcaption>` +
    `<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(options.title)}">` +
    `<title>${escapeHtml(options.title)}</title>${rows.join('')}</svg></figure>`
  );
}

function legendOf(
  entries: readonly { readonly name: string; readonly color: string; readonly dashed?: boolean }[],
): string {
  if (entries.length === 0) return '';
  const items = entries.map(
    (e) =>
      `<span class="key"><svg width="18" height="8" aria-hidden="true"><line x1="0" x2="18" y1="4" y2="4" stroke="${e.color}" stroke-width="2"${e.dashed ? ' stroke-dasharray="4 3"' : ''}/></svg>${escapeHtml(e.name)}</span>`,
  );
  return `<span class="legend">${items.join('')}</span>`;
}

/** Runs of consecutive non-null values, with their indexes. */
function segments(
  values: readonly (number | null)[],
): { readonly index: number; readonly value: number }[][] {
  const runs: { index: number; value: number }[][] = [];
  let current: { index: number; value: number }[] = [];
  values.forEach((value, index) => {
    if (value === null || !Number.isFinite(value)) {
      if (current.length > 0) runs.push(current);
      current = [];
    } else current.push({ index, value });
  });
  if (current.length > 0) runs.push(current);
  return runs;
}

/** The smallest of 1, 2, 2.5, 5 × 10^n at or above the value (1 for 0). */
export function niceCeiling(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

export function formatCount(n: number): string {
  return Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(2);
}

/** A rate as a percentage: 0.0512 → "5.12 %", 0.0004 → "0.04 %". */
export function formatPercent(rate: number | null): string {
  if (rate === null) return '–';
  const percent = rate * 100;
  const digits = percent === 0 ? 0 : percent < 0.1 ? 3 : percent < 10 ? 2 : 1;
  return `${percent.toFixed(digits)} %`;
}

/** A round rate for axes and thresholds: 0.08 → "8 %", 0.005 → "0.5 %". */
export function formatPercentShort(rate: number): string {
  return `${Number((rate * 100).toPrecision(3))} %`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
