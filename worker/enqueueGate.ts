/**
 * Holds SQS polling while jobs cannot be added: receiving then would only cycle messages through
 * receives that cannot end in a delete (and raise their receive counts toward the DLQ).
 *
 * Two reasons to hold: the job store's connection is not ready (ioredis reconnects with its own
 * backoff; the gate looks again every 100 ms), or it is connected but the last enqueue failed
 * (back off 0.5 s, doubling to 30 s, until one succeeds). All pollers share one gate.
 */
import type { Logger } from 'pino';

const CHECK_MS = 100;
const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
/** Connecting at start-up takes a few ms; only a longer hold is worth a warning. */
const QUIET_HOLD_MS = 1000;

export interface EnqueueGate {
  /** Resolves when polling may go on (or the worker is stopping). */
  beforeReceive(): Promise<void>;
  /** Reports whether the last batch's jobs were added. */
  enqueued(ok: boolean): void;
}

export function makeEnqueueGate(
  isConnected: () => boolean,
  isStopping: () => boolean,
  log: Logger,
): EnqueueGate {
  let failures = 0;
  let retryAt = 0;
  let holdingSince: number | null = null;
  let warned = false;

  const mustHold = () => !isConnected() || Date.now() < retryAt;
  return {
    async beforeReceive() {
      while (!isStopping() && mustHold()) {
        holdingSince ??= Date.now();
        if (!warned && Date.now() - holdingSince >= QUIET_HOLD_MS) {
          warned = true;
          log.warn(
            { reason: isConnected() ? 'enqueue failing' : 'redis not connected' },
            'holding SQS polling until jobs can be added',
          );
        }
        await new Promise((resolve) => setTimeout(resolve, CHECK_MS));
      }
      // Let go because the worker is stopping, the store may still be down: say which.
      if (holdingSince !== null && warned && isStopping()) {
        log.info({ heldMs: Date.now() - holdingSince }, 'stopping while SQS polling was held');
      } else if (holdingSince !== null && warned) {
        log.info({ heldMs: Date.now() - holdingSince }, 'jobs can be added again; polling resumed');
      }
      holdingSince = null;
      warned = false;
    },
    enqueued(ok) {
      if (ok) {
        failures = 0;
        retryAt = 0;
        return;
      }
      failures++;
      retryAt = Date.now() + Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (failures - 1));
    },
  };
}
