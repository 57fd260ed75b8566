/**
 * Pulling SES's account-level suppression list into ours.
 *
 * A pull covers a window of SES's LastUpdateTime, [since, until), page by page. After each page
 * is applied the page token is saved, so a pull that is interrupted (killed, SES down) resumes
 * at the page it was on; a page applied twice changes nothing, because each entry is applied
 * under an event key made of its address and LastUpdateTime. Only when the last page is in does
 * the watermark move to `until`; the next pull starts a little before it (SES's list is
 * eventually consistent), and the keys make the overlap free.
 *
 * Pulled entries are written through the store (so `check` sees them) with evidence saying they
 * came from SES, its reason and its LastUpdateTime; the sync records mark them SES's own, so a
 * lift never deletes them from SES. Entries the worker itself put are only noted.
 */
import type { Logger } from 'pino';
import type { SesSyncMetrics } from '../adapters/metrics/sesSync';
import type { PullProgress, SesSyncState } from '../adapters/redis/sesSyncState';
import type { SesSuppressionList } from '../adapters/ses/suppressionList';
import { SesRequestError } from '../adapters/ses/suppressionList';
import { normalizeEmailAddress, type EmailAddress } from '../domain/address';
import type { SuppressionStore } from '../domain/ports';
import { reasonForSes, type SesSyncRecord } from '../domain/sesSync';

/** SES's largest page (ListSuppressedDestinations PageSize). */
export const SES_PAGE_SIZE = 1000;
/** How far before the watermark the next pull starts. */
export const PULL_OVERLAP_MS = 5 * 60_000;

export interface PullOptions {
  readonly list: SesSuppressionList;
  readonly state: SesSyncState;
  /** The store itself, not the one that reports applies: pulled entries are not pushed back. */
  readonly store: SuppressionStore;
  /** An explicit start (`--since`): a new window from there, whatever was in progress. */
  readonly since?: Date;
  readonly pageSize?: number;
  /** Time between two SES requests (the account's rate). */
  readonly spacingMs: number;
  readonly signal?: AbortSignal;
  readonly onPage?: (progress: PullProgress) => void;
  /** Called between pages: false stops the pull (a lapsed lock). */
  readonly stillAllowed?: () => Promise<boolean>;
  readonly metrics?: SesSyncMetrics;
  readonly log?: Logger;
  readonly now?: () => number;
}

export type PullEnd = 'done' | 'stopped';

export async function pullFromSes(options: PullOptions): Promise<{
  end: PullEnd;
  progress: PullProgress;
}> {
  const now = options.now ?? Date.now;
  const pageSize = options.pageSize ?? SES_PAGE_SIZE;
  let progress = await startingPoint(options, now());
  let lastRequestAt = 0;
  for (;;) {
    if (options.signal?.aborted) return { end: 'stopped', progress };
    if (options.stillAllowed !== undefined && !(await options.stillAllowed()))
      return { end: 'stopped', progress };
    const wait = lastRequestAt + options.spacingMs - Date.now();
    if (wait > 0 && !(await delay(wait, options.signal))) return { end: 'stopped', progress };
    lastRequestAt = Date.now();
    let page;
    try {
      page = await options.list.listPage({
        since: progress.since === null ? null : new Date(progress.since),
        until: new Date(progress.until),
        nextToken: progress.nextToken,
        pageSize,
      });
    } catch (error) {
      // A token SES no longer honours: the window again from its start (applying is idempotent).
      if (
        error instanceof SesRequestError &&
        (error.code === 'InvalidNextTokenException' || error.code === 'BadRequestException') &&
        progress.nextToken !== null
      ) {
        options.log?.warn({ err: error.message }, 'ses pull: page token refused; window restarts');
        progress = { ...progress, nextToken: null };
        await options.state.saveProgress(progress);
        continue;
      }
      throw error;
    }
    const imported = await applyPage(options, page.entries);
    progress = {
      ...progress,
      nextToken: page.nextToken,
      pages: progress.pages + 1,
      seen: progress.seen + page.entries.length,
      imported: progress.imported + imported,
    };
    if (page.nextToken === null) {
      await options.state.finishPull({
        finishedAt: now(),
        until: progress.until,
        seen: progress.seen,
        imported: progress.imported,
      });
      options.onPage?.(progress);
      return { end: 'done', progress };
    }
    await options.state.saveProgress(progress);
    options.onPage?.(progress);
  }
}

async function startingPoint(options: PullOptions, now: number): Promise<PullProgress> {
  const fresh = (since: number | null): PullProgress => ({
    since,
    until: now,
    nextToken: null,
    pages: 0,
    seen: 0,
    imported: 0,
  });
  if (options.since !== undefined) {
    const progress = fresh(options.since.getTime());
    await options.state.saveProgress(progress);
    return progress;
  }
  const inProgress = await options.state.progress();
  if (inProgress !== null) return inProgress;
  const watermark = await options.state.watermark();
  const progress = fresh(watermark === null ? null : watermark - PULL_OVERLAP_MS);
  await options.state.saveProgress(progress);
  return progress;
}

/** Applies one page; how many entries it added to (or raised in) our list. */
async function applyPage(
  options: PullOptions,
  entries: readonly { address: string; reason: 'BOUNCE' | 'COMPLAINT'; lastUpdateTime: number }[],
): Promise<number> {
  const valid: { address: EmailAddress; reason: 'BOUNCE' | 'COMPLAINT'; at: number }[] = [];
  for (const entry of entries) {
    const address = normalizeEmailAddress(entry.address);
    if (address === null) options.metrics?.pulled.inc({ outcome: 'invalid' });
    else valid.push({ address, reason: entry.reason, at: entry.lastUpdateTime });
  }
  const records = await options.state.getMany(valid.map((v) => v.address));
  // Recorded first: a suppression job racing on the address then sees SES already holds it.
  await options.state.updateMany(
    valid.map(({ address, reason, at }): [EmailAddress, Partial<SesSyncRecord>] => {
      const ours = (records.get(address)?.pushedAt ?? null) !== null;
      return [
        address,
        ours
          ? { sesReason: reason }
          : { sesReason: reason, sesHadIt: true, pulledLastUpdateTime: at },
      ];
    }),
  );
  let imported = 0;
  // A few at a time: a page is up to 1000 entries, each one script call.
  for (let i = 0; i < valid.length; i += 50) {
    const outcomes = await Promise.all(
      valid.slice(i, i + 50).map(async ({ address, reason, at }) => {
        if ((records.get(address)?.pushedAt ?? null) !== null) return 'known';
        const iso = new Date(at).toISOString();
        const [outcome] = await options.store.apply(
          address,
          [
            {
              type: 'suppress',
              scope: 'global',
              reason: reasonForSes(reason),
              evidence: { at: iso, kind: 'import', origin: 'ses', sesReason: reason },
            },
          ],
          `ses-pull/${at}/${address}`,
        );
        return outcome === 'added' || outcome === 'updated' ? 'imported' : 'known';
      }),
    );
    for (const outcome of outcomes) {
      options.metrics?.pulled.inc({ outcome });
      if (outcome === 'imported') imported++;
    }
  }
  return imported;
}

/** Resolves true after `ms`, or false as soon as the signal aborts. */
function delay(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Pulls every `intervalMs` on whichever replica takes the lock; the others skip that round.
 * The lock is renewed between pages and released at the end.
 */
export function startPeriodicPull(
  options: Omit<PullOptions, 'since' | 'signal' | 'stillAllowed' | 'onPage'> & {
    readonly intervalMs: number;
  },
): { stop(): Promise<void> } {
  const abort = new AbortController();
  let running: Promise<void> = Promise.resolve();
  const lockTtlMs = Math.max(60_000, options.spacingMs * 10);
  const round = async () => {
    const lock = await options.state.lock(lockTtlMs);
    if (lock === null) return;
    try {
      const { end, progress } = await pullFromSes({
        ...options,
        signal: abort.signal,
        stillAllowed: () => lock.renew(),
      });
      options.log?.info(
        { end, pages: progress.pages, seen: progress.seen, imported: progress.imported },
        'ses pull',
      );
    } finally {
      await lock.release();
    }
  };
  const tick = () => {
    running = round().catch((error: Error) =>
      options.log?.warn({ err: error.message }, 'ses pull failed; the next round resumes it'),
    );
  };
  tick();
  const timer = setInterval(tick, options.intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      abort.abort();
      await running;
    },
  };
}
