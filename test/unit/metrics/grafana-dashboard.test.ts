/**
 * docs/grafana-dashboard.json queries only what the worker exports: every metric name exists in
 * the registry, every label it selects or groups by is one of that metric's labels.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { makeMetrics } from '../../../adapters/metrics/registry';

interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly gridPos?: { x: number; y: number; w: number; h: number };
  readonly targets?: readonly { readonly expr: string; readonly refId: string }[];
}

const dashboard = JSON.parse(
  readFileSync(resolve(__dirname, '../../../docs/grafana-dashboard.json'), 'utf8'),
) as { panels: Panel[]; uid: string; __inputs: { name: string }[] };
const queries = dashboard.panels.flatMap((p) =>
  (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })),
);

const registry = makeMetrics().registry;
const HISTOGRAM_SERIES = /_(bucket|sum|count)$/;

/** The registered metric a series name belongs to (histograms export three series). */
function metricOf(series: string): { name: string; labels: string[] } | null {
  for (const name of [series, series.replace(HISTOGRAM_SERIES, '')]) {
    const metric = registry.getSingleMetric(name) as unknown as
      { labelNames?: readonly string[] } | undefined;
    if (metric !== undefined) {
      const labels = [...(metric.labelNames ?? [])];
      if (name !== series && series.endsWith('_bucket')) labels.push('le');
      return { name, labels };
    }
  }
  return null;
}

describe('docs/grafana-dashboard.json', () => {
  it('is an importable dashboard with panels and a Prometheus input', () => {
    expect(dashboard.uid).toBe('ses-worker');
    expect(dashboard.__inputs.map((i) => i.name)).toEqual(['DS_PROMETHEUS']);
    expect(queries.length).toBeGreaterThan(20);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of dashboard.panels) expect(panel.gridPos).toBeDefined();
  });

  it.each(queries)('$panel: every metric it queries exists in the registry', ({ expr }) => {
    const names = expr.match(/\bses_[a-z0-9_]+/g) ?? [];
    expect(names.length).toBeGreaterThan(0);
    for (const name of names)
      expect({ name, exists: metricOf(name) !== null }).toEqual({ name, exists: true });
  });

  it.each(queries)('$panel: every label it selects or groups by is the metric’s', ({ expr }) => {
    const metrics = (expr.match(/\bses_[a-z0-9_]+/g) ?? []).map((n) => metricOf(n)!);
    const known = new Set(metrics.flatMap((m) => m.labels));
    const selected = [...expr.matchAll(/\{([^}]*)\}/g)].flatMap((m) =>
      m[1]!.split(',').map((matcher) => matcher.trim().split(/[=!~]/)[0]!),
    );
    const grouped = [...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) =>
      m[1]!.split(',').map((l) => l.trim()),
    );
    for (const label of [...selected, ...grouped].filter((l) => l !== ''))
      expect({ label, known: known.has(label) }).toEqual({ label, known: true });
  });

  it('covers the reputation gauges and the per-kind counters', () => {
    const all = queries.map((q) => q.expr).join('\n');
    for (const name of [
      'ses_reputation_bounce_rate',
      'ses_reputation_complaint_rate',
      'ses_reputation_state',
      'ses_reputation_threshold',
      'ses_events_total',
      'ses_bounces_total',
      'ses_complaints_total',
      'ses_delivery_processing_seconds_bucket',
      'ses_delivery_delays_total',
      'ses_rendering_failures_total',
      'ses_inbound_actions_total',
      'ses_inbound_verdicts_total',
    ])
      expect(all).toContain(name);
  });
});
