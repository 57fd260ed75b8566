/** The SES suppression sync's metrics, on the worker's registry. Labels are enums only. */
import { Counter, Gauge, type Registry } from 'prom-client';

export function makeSesSyncMetrics(
  registry: Registry,
  sources: {
    /** Jobs waiting, delayed or in progress on `ses-sync`. */
    readonly pending: () => Promise<number>;
    /** The pull watermark (ms), or null before the first pull. */
    readonly watermark: () => Promise<number | null>;
  },
) {
  const registers = [registry];
  return {
    pushed: new Counter({
      name: 'ses_suppression_sync_pushed_total',
      help: 'Addresses put to SES’s account-level suppression list, by SES reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    alreadyInSes: new Counter({
      name: 'ses_suppression_sync_already_in_ses_total',
      help: 'Addresses not put because SES already held them (its own, or someone else’s)',
      registers,
    }),
    deleted: new Counter({
      name: 'ses_suppression_sync_deleted_total',
      help: 'Addresses the worker had put deleted from SES’s list after their entry was removed',
      registers,
    }),
    failed: new Counter({
      name: 'ses_suppression_sync_failed_total',
      help: 'ses-sync job attempts that failed, by step and whether they will be retried',
      labelNames: ['step', 'retry'] as const,
      registers,
    }),
    pulled: new Counter({
      name: 'ses_suppression_sync_pulled_total',
      help: 'Entries read from SES’s list by pulls, by outcome in ours (imported, known, invalid)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    pending: new Gauge({
      name: 'ses_suppression_sync_pending',
      help: 'ses-sync jobs waiting, delayed or in progress',
      registers,
      async collect() {
        this.set(await sources.pending().catch(() => NaN));
      },
    }),
    pullLag: new Gauge({
      name: 'ses_suppression_sync_pull_lag_seconds',
      help: 'Seconds since the end of the last finished pull’s window (NaN before the first pull)',
      registers,
      async collect() {
        const watermark = await sources.watermark().catch(() => null);
        this.set(watermark === null ? NaN : (Date.now() - watermark) / 1000);
      },
    }),
  };
}

export type SesSyncMetrics = ReturnType<typeof makeSesSyncMetrics>;
