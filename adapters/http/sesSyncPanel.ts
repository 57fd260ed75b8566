/** The status page's "SES suppression sync" panel: counts and times only, never an address. */
import { escapeHtml } from './charts';

export interface SesSyncPanelView {
  readonly mode: string;
  readonly ratePerSecond: number;
  readonly queue: {
    readonly waiting: number;
    readonly delayed: number;
    readonly active: number;
    readonly failed: number;
  };
  /** ISO 8601; null before the first finished pull. */
  readonly watermark: string | null;
  readonly lastPull: {
    readonly finishedAt: number;
    readonly seen: number;
    readonly imported: number;
  } | null;
  readonly pullInProgress: { readonly pages: number; readonly seen: number } | null;
}

export type SettledView = { ok: true; value: SesSyncPanelView } | { ok: false; error: string };

export function sesSyncPanel(view: SettledView | null, now: number): string {
  const title = '<h3>SES suppression sync</h3>';
  if (view === null)
    return `<div>${title}<p class="muted">Off (SES_SUPPRESSION_SYNC=off).</p></div>`;
  if (!view.ok)
    return `<div>${title}<p class="muted">Sync state unavailable: ${escapeHtml(view.error)}</p></div>`;
  const v = view.value;
  const lag =
    v.watermark === null
      ? 'no pull finished yet'
      : `${Math.round((now - Date.parse(v.watermark)) / 60_000)} min behind SES`;
  const rows: [string, string][] = [
    ['mode', `${v.mode}, ${v.ratePerSecond} request(s)/s`],
    ['pending pushes and lifts', String(v.queue.waiting + v.queue.delayed + v.queue.active)],
    ['failed (replay-failed --queue ses-sync)', String(v.queue.failed)],
    ['pull', lag],
  ];
  if (v.lastPull !== null)
    rows.push([
      'last pull',
      `${new Date(v.lastPull.finishedAt).toISOString().slice(0, 19).replace('T', ' ')} UTC: ${v.lastPull.seen} read, ${v.lastPull.imported} imported`,
    ]);
  if (v.pullInProgress !== null)
    rows.push([
      'pull in progress',
      `${v.pullInProgress.pages} page(s), ${v.pullInProgress.seen} read`,
    ]);
  const failedStyle = v.queue.failed > 0 ? ' style="color:#c53030"' : '';
  return `<div>${title}<table>${rows
    .map(
      ([label, value], i) =>
        `<tr><th scope="row">${escapeHtml(label)}</th><td${i === 2 ? failedStyle : ''}>${escapeHtml(value)}</td></tr>`,
    )
    .join('')}</table></div>`;
}
