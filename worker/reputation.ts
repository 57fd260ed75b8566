/**
 * The reputation monitor: reads the shared windows, computes each dimension's rates and state
 * (domain/reputation.ts), exports them as gauges, and announces state changes — a log line at
 * warn or error level and a POST to REPUTATION_WEBHOOK_URL. Every replica of the process role
 * evaluates; the store's atomic state change makes exactly one of them announce each change.
 */
import type { Logger } from 'pino';
import type { Metrics } from '../adapters/metrics/registry';
import type { ReputationStore } from '../adapters/redis/reputationStore';
import type { Notify } from '../adapters/webhook/notifier';
import { loggableError } from '../domain/redact';
import {
  STATE_VALUE,
  dimensionKey,
  reputationReport,
  type DimensionReport,
  type ReputationPolicy,
  type ReputationReport,
  type ReputationState,
} from '../domain/reputation';

export interface ReputationMonitorOptions {
  readonly store: ReputationStore;
  readonly metrics: Metrics;
  readonly policy: ReputationPolicy;
  /** Null: no webhook configured; changes are logged only. */
  readonly notify: Notify | null;
  readonly log: Logger;
  readonly now?: () => number;
}

export interface ReputationMonitor {
  /** The current rates and states, read from Redis; changes nothing. */
  report(): Promise<ReputationReport>;
  /** `report`, then sets the gauges and records and announces each changed state. */
  evaluate(): Promise<ReputationReport>;
}

/** What the webhook receives on a change. */
export interface ReputationChange {
  readonly type: 'ses-worker.reputation.state-changed';
  readonly at: string;
  readonly dimension: DimensionReport['dimension'];
  readonly previousState: ReputationState;
  readonly state: ReputationState;
  readonly windows: DimensionReport['windows'];
  readonly thresholds: ReputationReport['thresholds'];
  readonly minVolume: number;
}

export function makeReputationMonitor(options: ReputationMonitorOptions): ReputationMonitor {
  const { store, metrics, policy, log } = options;
  const now = options.now ?? Date.now;
  for (const rate of ['bounce', 'complaint'] as const) {
    for (const level of ['warn', 'critical'] as const) {
      metrics.reputationThreshold.set({ rate, level }, policy.thresholds[rate][level]);
    }
  }

  const report = async (): Promise<ReputationReport> => {
    const at = now();
    const [counts, states] = await Promise.all([store.windowCounts(at), store.states()]);
    return reputationReport(counts, states, policy, new Date(at));
  };

  const setGauges = (current: ReputationReport) => {
    // Reset first so a dimension that left the report leaves the scrape too (one tick: no
    // scrape can fall between reset and set).
    metrics.reputationBounceRate.reset();
    metrics.reputationComplaintRate.reset();
    metrics.reputationVolume.reset();
    metrics.reputationState.reset();
    for (const { dimension, windows, state } of current.dimensions) {
      const labels = { dimension: dimension.type, name: dimension.name };
      metrics.reputationState.set(labels, STATE_VALUE[state]);
      for (const w of windows) {
        const windowLabels = { ...labels, window: w.window };
        metrics.reputationVolume.set(windowLabels, w.volume);
        if (w.bounceRate !== null) metrics.reputationBounceRate.set(windowLabels, w.bounceRate);
        if (w.complaintRate !== null)
          metrics.reputationComplaintRate.set(windowLabels, w.complaintRate);
      }
    }
  };

  const announce = async (current: ReputationReport, dimension: DimensionReport) => {
    const previous = await store.changeState(dimensionKey(dimension.dimension), dimension.state);
    if (previous === null) return; // unchanged, or another replica announced it
    const change: ReputationChange = {
      type: 'ses-worker.reputation.state-changed',
      at: current.at,
      dimension: dimension.dimension,
      previousState: previous,
      state: dimension.state,
      windows: dimension.windows,
      thresholds: current.thresholds,
      minVolume: current.minVolume,
    };
    const fields = {
      dimension: dimension.dimension.type,
      name: dimension.dimension.name,
      previousState: previous,
      state: dimension.state,
      rates: Object.fromEntries(
        dimension.windows.map((w) => [
          w.window,
          { bounce: w.bounceRate, complaint: w.complaintRate, volume: w.volume },
        ]),
      ),
    };
    const message = `reputation ${dimension.state}: ${dimension.dimension.type} ${dimension.dimension.name}`;
    if (dimension.state === 'critical') log.error(fields, message);
    else if (dimension.state === 'warn') log.warn(fields, message);
    else log.info(fields, message);
    if (options.notify === null) return;
    try {
      await options.notify(change);
      metrics.reputationNotifications.inc({ outcome: 'sent' });
    } catch (error) {
      metrics.reputationNotifications.inc({ outcome: 'failed' });
      log.error({ ...fields, err: loggableError(error) }, 'reputation webhook not delivered');
    }
  };

  return {
    report,
    async evaluate() {
      const current = await report();
      setGauges(current);
      for (const dimension of current.dimensions) {
        if (dimension.state !== dimension.previousState) await announce(current, dimension);
      }
      return current;
    },
  };
}

export interface Evaluator {
  /** Stops the timer and waits (a little) for an evaluation in progress. */
  stop(): Promise<void>;
}

/** An evaluation stuck on a Redis outage must not hold up shutdown. */
const STOP_WAIT_MS = 2000;

/** Evaluates now and every `intervalMs`; a run still going when the next is due is not doubled. */
export function startReputationEvaluator(
  monitor: ReputationMonitor,
  intervalMs: number,
  log: Logger,
): Evaluator {
  let running: Promise<void> | null = null;
  const run = () => {
    if (running !== null) return;
    running = monitor
      .evaluate()
      .then(
        () => undefined,
        (error: Error) => log.warn({ err: loggableError(error) }, 'reputation evaluation failed'),
      )
      .finally(() => {
        running = null;
      });
  };
  run();
  const timer = setInterval(run, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      if (running === null) return;
      let timeout: NodeJS.Timeout | undefined;
      await Promise.race([
        running,
        new Promise((resolve) => (timeout = setTimeout(resolve, STOP_WAIT_MS))),
      ]).finally(() => clearTimeout(timeout));
    },
  };
}
