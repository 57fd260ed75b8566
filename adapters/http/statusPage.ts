/**
 * `GET /`: the status page. One server-rendered HTML document with inline CSS and SVG charts —
 * no script, no build step, no external asset (it must work on an offline network): events per
 * minute by kind, the 24-hour bounce and complaint rates against their thresholds, the
 * dead-letter queue, failed jobs and the suppression list. It refreshes itself every minute.
 *
 * Every panel is read independently: one that fails (SQS unreachable, say) shows why, and the
 * rest of the page still renders. Nothing on it is an address.
 */
import type { FastifyRequest } from 'fastify';
import type { DomainEventKind } from '../../domain/events';
import { EVENT_KIND_LABELS } from '../../domain/eventKindLabels';
import { sesSyncPanel, type SesSyncPanelView } from './sesSyncPanel';
import {
  HOUR_MS,
  MINUTE_MS,
  slidingRates,
  type DimensionReport,
  type ReputationCounts,
  type ReputationReport,
  type ReputationState,
} from '../../domain/reputation';
import type { EventsPerMinute } from '../redis/reputationStore';
import {
  barChart,
  escapeHtml,
  formatCount,
  formatPercent,
  formatPercentShort,
  lineChart,
  type LineSeries,
} from './charts';
import type { HttpRoutes } from './server';
import { shortLived } from './shortLived';

export interface QueueJobCounts {
  readonly failed: number;
  readonly waiting: number;
  readonly active: number;
  readonly delayed: number;
}

export interface SuppressionCountsView {
  readonly total: number;
  readonly byReason: Readonly<Record<string, number>>;
}

export interface StatusPageDeps {
  readonly reputation: () => Promise<ReputationReport>;
  readonly eventsPerMinute: (minutes: number) => Promise<EventsPerMinute>;
  /** The account's counts per hour, oldest first, the last being the current hour. */
  readonly accountHourly: (hours: number) => Promise<readonly ReputationCounts[]>;
  /** Messages in the dead-letter queue (ApproximateNumberOfMessages); null: no DLQ here. */
  readonly dlqDepth: (() => Promise<number>) | null;
  readonly jobCounts: () => Promise<Readonly<Record<string, QueueJobCounts>>>;
  /** Null: the suppression list's counts are not wired. */
  readonly suppressionCounts: (() => Promise<SuppressionCountsView>) | null;
  /** Null: SES_SUPPRESSION_SYNC is off. */
  readonly sesSync?: (() => Promise<SesSyncPanelView>) | null;
  readonly now?: () => number;
}

/** Hours of events per minute shown by default, and at most (`/?hours=`). */
export const DEFAULT_HOURS = 3;
export const MAX_HOURS = 24;
const RATE_DAYS = 7;

/** The page is open: however often it is requested, it is rendered at most this often. */
const RENDER_EVERY_MS = 2000;

export function statusPageRoutes(deps: StatusPageDeps): HttpRoutes {
  const render = shortLived(RENDER_EVERY_MS, (hours: number) => renderStatusPage(deps, hours));
  return (app) => {
    app.get('/', async (request, reply) => {
      const html = await render(hoursOf(request));
      return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(html);
    });
  };
}

function hoursOf(request: FastifyRequest): number {
  const raw = (request.query as Record<string, unknown> | undefined)?.hours;
  const hours = typeof raw === 'string' && /^\d{1,2}$/.test(raw) ? Number(raw) : DEFAULT_HOURS;
  return Math.min(MAX_HOURS, Math.max(1, hours));
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: string };

async function settle<T>(work: (() => Promise<T>) | null): Promise<Settled<T> | null> {
  if (work === null) return null;
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

export async function renderStatusPage(deps: StatusPageDeps, hours: number): Promise<string> {
  const now = (deps.now ?? Date.now)();
  const rateHours = RATE_DAYS * 24;
  const [reputation, perMinute, hourly, dlq, jobs, suppression, sesSync] = await Promise.all([
    settle(deps.reputation),
    settle(() => deps.eventsPerMinute(hours * 60)),
    // 23 more hours than drawn: the first point's 24-hour window starts that far back.
    settle(() => deps.accountHourly(rateHours + 23)),
    settle(deps.dlqDepth),
    settle(deps.jobCounts),
    settle(deps.suppressionCounts),
    settle(deps.sesSync ?? null),
  ]);

  const accountState =
    reputation?.ok === true ? (reputation.value.dimensions[0]?.state ?? 'ok') : null;
  const sections = [
    section('Reputation', reputationPanel(reputation!, hourly!, now, rateHours)),
    section(`Events per minute, last ${hours} h`, eventsPanel(perMinute!)),
    section(
      'Needs attention',
      `<div class="row">${dlqPanel(dlq)}${jobsPanel(jobs!)}${suppressionPanel(suppression)}${sesSyncPanel(sesSync, now)}</div>`,
    ),
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="60">
<link rel="icon" href="data:,">
<title>ses-worker status</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>ses-worker</h1>${accountState === null ? '' : badge(accountState, 'account')}
<p class="muted">As of ${escapeHtml(new Date(now).toISOString().replace('T', ' ').slice(0, 19))} UTC · refreshes every minute · <a href="/reputation">/reputation</a> · <a href="/metrics">/metrics</a> · hours: ${[1, 3, 6, 12, 24].map((h) => `<a href="/?hours=${h}">${h}</a>`).join(' ')}</p></header>
<main>${sections.join('\n')}</main>
</body>
</html>
`;
}

function section(title: string, body: string): string {
  return `<section><h2>${escapeHtml(title)}</h2>${body}</section>`;
}

function unavailable(what: string, error: string): string {
  return `<p class="error">${escapeHtml(what)} unavailable: ${escapeHtml(error)}</p>`;
}

function badge(state: ReputationState, what?: string): string {
  const text = what === undefined ? state : `${escapeHtml(what)}: ${state}`;
  return `<span class="badge ${state}" data-state="${state}">${text}</span>`;
}

const STATE_COLOR = { warn: '#b7791f', critical: '#c53030' } as const;

function reputationPanel(
  reputation: Settled<ReputationReport>,
  hourly: Settled<readonly ReputationCounts[]>,
  now: number,
  rateHours: number,
): string {
  if (!reputation.ok) return unavailable('Reputation', reputation.error);
  const report = reputation.value;
  const { bounce, complaint } = report.thresholds;
  const table = `<table>
<thead><tr><th>dimension</th><th>name</th><th>state</th><th>bounce 24 h</th><th>complaint 24 h</th><th>volume 24 h</th><th>bounce 7 d</th><th>complaint 7 d</th><th>volume 7 d</th></tr></thead>
<tbody>${report.dimensions.map(dimensionRow).join('')}</tbody></table>
<p class="muted">Rates per recipient: hard bounces and complaints over sends (or deliveries + bounces where larger). Warn at ${formatPercent(bounce.warn)} bounces or ${formatPercent(complaint.warn)} complaints, critical at ${formatPercent(bounce.critical)} or ${formatPercent(complaint.critical)}; a window needs ${formatCount(report.minVolume)} recipients to decide a state.</p>`;
  if (!hourly.ok) return table + unavailable('Rate history', hourly.error);

  const points = slidingRates(hourly.value, 24).slice(-rateHours);
  const firstHour = Math.floor(now / HOUR_MS) - rateHours + 1;
  const xTicks = dayTicks(firstHour, rateHours);
  const chart = (
    title: string,
    name: string,
    values: (number | null)[],
    limits: { warn: number; critical: number },
  ) =>
    lineChart({
      title,
      series: [{ name, color: '#2b6cb0', values }],
      xTicks,
      formatY: formatPercentShort,
      width: 980,
      height: 200,
      thresholds: [
        {
          label: `warn ${formatPercentShort(limits.warn)}`,
          value: limits.warn,
          color: STATE_COLOR.warn,
        },
        {
          label: `critical ${formatPercentShort(limits.critical)}`,
          value: limits.critical,
          color: STATE_COLOR.critical,
        },
      ],
    });
  return (
    table +
    `<div class="row">` +
    chart(
      'Account bounce rate, sliding 24 h, hourly over 7 days',
      'bounce rate',
      points.map((p) => p.bounceRate),
      bounce,
    ) +
    chart(
      'Account complaint rate, sliding 24 h, hourly over 7 days',
      'complaint rate',
      points.map((p) => p.complaintRate),
      complaint,
    ) +
    `</div>`
  );
}

function dimensionRow(d: DimensionReport): string {
  const w = (name: string) => d.windows.find((x) => x.window === name);
  const cells = (name: string) => {
    const window = w(name);
    if (window === undefined) return '<td>–</td><td>–</td><td>–</td>';
    const low = window.enoughVolume ? '' : ' class="muted" title="below the minimum volume"';
    return (
      `<td${low}>${formatPercent(window.bounceRate)}</td>` +
      `<td${low}>${formatPercent(window.complaintRate)}</td>` +
      `<td${low}>${formatCount(window.volume)}</td>`
    );
  };
  return `<tr><td>${escapeHtml(d.dimension.type)}</td><td>${escapeHtml(d.dimension.name)}</td><td>${badge(d.state)}</td>${cells('24h')}${cells('7d')}</tr>`;
}

const KIND_COLORS: Readonly<Record<DomainEventKind, string>> = {
  send: '#4a5568',
  delivery: '#2f855a',
  bounce: '#c53030',
  complaint: '#b83280',
  reject: '#744210',
  open: '#3182ce',
  click: '#00a3c4',
  renderingFailure: '#dd6b20',
  deliveryDelay: '#d69e2e',
  subscription: '#805ad5',
  received: '#319795',
  sesSubscriptionTest: '#a0aec0',
  sesEventDestinationTest: '#a0aec0',
  snsSubscriptionConfirmation: '#718096',
  snsUnsubscribeConfirmation: '#718096',
};

function eventsPanel(perMinute: Settled<EventsPerMinute>): string {
  if (!perMinute.ok) return unavailable('Events per minute', perMinute.error);
  const { startMinute, kinds } = perMinute.value;
  const series: LineSeries[] = [...kinds].map(([kind, values]) => ({
    name: kind,
    label: EVENT_KIND_LABELS[kind],
    color: KIND_COLORS[kind],
    values,
  }));
  const length = series[0]?.values.length ?? 0;
  if (series.length === 0) {
    return '<p class="muted" data-empty="events">No events in this period.</p>';
  }
  const every = length <= 90 ? 15 : length <= 360 ? 30 : length <= 720 ? 60 : 180;
  const xTicks: { index: number; text: string }[] = [];
  for (let i = 0; i < length; i++) {
    const minute = startMinute + i;
    if (minute % every === 0)
      xTicks.push({ index: i, text: new Date(minute * MINUTE_MS).toISOString().slice(11, 16) });
  }
  const total = series.reduce(
    (sum, s) => sum + s.values.reduce<number>((a, v) => a + (v ?? 0), 0),
    0,
  );
  return (
    lineChart({
      title: 'Events per minute by kind (UTC, by the time SES reports for each event)',
      series,
      xTicks,
      formatY: (v) => (Number.isInteger(v) ? String(v) : v.toFixed(1)),
      width: 980,
      height: 260,
    }) + `<p class="muted">${formatCount(total)} events in the period.</p>`
  );
}

function dlqPanel(dlq: Settled<number> | null): string {
  if (dlq === null) {
    return `<div><h3>Dead-letter queue</h3><p class="muted">SQS_DLQ_URL is not set (or this replica does not poll SQS).</p></div>`;
  }
  if (!dlq.ok) return `<div><h3>Dead-letter queue</h3>${unavailable('DLQ depth', dlq.error)}</div>`;
  return `<div><h3>Dead-letter queue</h3>${barChart({
    title: 'Messages in the DLQ',
    bars: [{ label: 'messages', value: dlq.value, color: dlq.value > 0 ? '#c53030' : '#a0aec0' }],
  })}</div>`;
}

function jobsPanel(jobs: Settled<Readonly<Record<string, QueueJobCounts>>>): string {
  if (!jobs.ok) return `<div><h3>Jobs</h3>${unavailable('Job counts', jobs.error)}</div>`;
  const queues = Object.entries(jobs.value);
  return `<div><h3>Jobs</h3>${barChart({
    title: 'Failed jobs by queue (no attempts left)',
    bars: queues.map(([queue, counts]) => ({
      label: queue,
      value: counts.failed,
      color: counts.failed > 0 ? '#c53030' : '#a0aec0',
    })),
  })}${barChart({
    title: 'Jobs waiting or delayed by queue',
    bars: queues.map(([queue, counts]) => ({
      label: queue,
      value: counts.waiting + counts.delayed,
      color: '#3182ce',
    })),
  })}</div>`;
}

function suppressionPanel(suppression: Settled<SuppressionCountsView> | null): string {
  if (suppression === null) {
    return `<div><h3>Suppression list</h3><p class="muted">Not available on this replica.</p></div>`;
  }
  if (!suppression.ok) {
    return `<div><h3>Suppression list</h3>${unavailable('Suppression counts', suppression.error)}</div>`;
  }
  const { total, byReason } = suppression.value;
  return `<div><h3>Suppression list</h3>${barChart({
    title: 'Suppressed addresses by reason',
    bars: [
      { label: 'total', value: total, color: '#4a5568' },
      ...Object.entries(byReason).map(([reason, count]) => ({
        label: reason,
        value: count,
        color: '#805ad5',
      })),
    ],
  })}</div>`;
}

function dayTicks(firstHour: number, hours: number): { index: number; text: string }[] {
  const ticks: { index: number; text: string }[] = [];
  for (let i = 0; i < hours; i++) {
    if ((firstHour + i) % 24 === 0)
      ticks.push({
        index: i,
        text: new Date((firstHour + i) * HOUR_MS).toISOString().slice(5, 10),
      });
  }
  return ticks;
}

const STYLE = `
:root { color-scheme: light; font-family: system-ui, sans-serif; color: #1a202c; background: #f7fafc; }
body { margin: 0 auto; max-width: 1040px; padding: 16px; }
header h1 { display: inline; font-size: 1.4rem; margin-right: 12px; }
h2 { font-size: 1.1rem; border-bottom: 1px solid #e2e8f0; padding-bottom: 4px; }
h3 { font-size: 0.95rem; margin: 8px 0; }
section { background: #fff; border: 1px solid #e2e8f0; border-radius: 6px; padding: 8px 16px 12px; margin: 16px 0; }
.row { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.muted { color: #718096; font-size: 0.85rem; }
.error { color: #c53030; }
table { border-collapse: collapse; width: 100%; font-size: 0.85rem; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #edf2f7; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 0.8rem; color: #fff; }
.badge.ok { background: #2f855a; } .badge.warn { background: #b7791f; } .badge.critical { background: #c53030; }
figure { margin: 0 0 8px; }
figcaption { font-size: 0.8rem; color: #4a5568; margin-bottom: 2px; }
.legend { display: block; margin-top: 2px; }
.key { margin-right: 10px; white-space: nowrap; }
.key svg { margin-right: 3px; }
svg.chart { max-width: 100%; height: auto; font-size: 11px; fill: #4a5568; }
svg.chart .grid { stroke: #edf2f7; }
`;
