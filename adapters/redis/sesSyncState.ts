/**
 * What the worker knows of SES's suppression list, in keys of its own under BULLMQ_PREFIX as
 * written (the same keys as before the cluster layout: nothing to move on upgrade). Low volume,
 * so they may all sit on one shard; with the default `{ses}` they share one slot, but nothing
 * here needs that: every script takes one key, and the one multi-key step (finishPull) is
 * ordered writes, not a MULTI, so a prefix without braces works on a cluster too.
 *   <p>:ses-sync:records         hash   address → SesSyncRecord (JSON): pushed when, SES had it, pulled
 *   <p>:ses-sync:pull:watermark  string ms: SES's entries up to here have been pulled
 *   <p>:ses-sync:pull:progress   string JSON: the pull in progress (window and page token)
 *   <p>:ses-sync:pull:last       string JSON: how the last finished pull went (status page)
 *   <p>:ses-sync:pull:lock       string the replica pulling now, expiring
 *   <p>:ses-sync:next-request    string ms: the earliest time the next SES request may leave
 */
import { randomUUID } from 'node:crypto';
import type { RedisClient } from './connection';
import type { EmailAddress } from '../../domain/address';
import type { SesSyncRecord } from '../../domain/sesSync';
import { luaScript } from './luaScript';

const EMPTY: SesSyncRecord = {
  sesReason: null,
  pushedAt: null,
  sesHadIt: false,
  pulledLastUpdateTime: null,
};

/** A pull under way: the window it covers and where in SES's pages it is. */
export interface PullProgress {
  /** ms; null: from the beginning of SES's list. */
  readonly since: number | null;
  readonly until: number;
  readonly nextToken: string | null;
  readonly pages: number;
  readonly seen: number;
  readonly imported: number;
}

export interface PullReport {
  readonly finishedAt: number;
  readonly until: number;
  readonly seen: number;
  readonly imported: number;
}

export interface SesSyncState {
  get(address: EmailAddress): Promise<SesSyncRecord | null>;
  getMany(addresses: readonly EmailAddress[]): Promise<Map<EmailAddress, SesSyncRecord>>;
  /** Merges the fields given into the address's record (atomically). */
  update(address: EmailAddress, patch: Partial<SesSyncRecord>): Promise<void>;
  /** Merges each patch into its address's record, in one round trip. */
  updateMany(patches: readonly (readonly [EmailAddress, Partial<SesSyncRecord>])[]): Promise<void>;
  forget(address: EmailAddress): Promise<void>;
  watermark(): Promise<number | null>;
  progress(): Promise<PullProgress | null>;
  saveProgress(progress: PullProgress): Promise<void>;
  /** The window is done: the watermark moves to its end, and the progress is cleared. */
  finishPull(report: PullReport): Promise<void>;
  lastPull(): Promise<PullReport | null>;
  /**
   * Waits for this process's turn to send an SES request: turns are `spacingMs` apart across
   * every replica and command sharing the Redis (the account's rate is per account, not per
   * process). Taken just before the request leaves, so nothing between a job's start and its
   * request can bunch requests together.
   */
  waitForRequestSlot(spacingMs: number): Promise<void>;
  /** Held by at most one caller at a time, for `ttlMs` unless renewed; null: someone else has it. */
  lock(ttlMs: number): Promise<PullLock | null>;
}

export interface PullLock {
  /** False when the lock had lapsed and someone else took it: stop. */
  renew(): Promise<boolean>;
  release(): Promise<void>;
}

type ScriptedRedis = RedisClient & {
  sesWorkerSesSyncReserveSlot(key: string, spacingMs: string): Promise<number>;
  sesWorkerSesSyncMerge(key: string, address: string, patch: string, empty: string): Promise<void>;
  sesWorkerSesSyncRelease(key: string, token: string): Promise<number>;
  sesWorkerSesSyncRenew(key: string, token: string, ttlMs: string): Promise<number>;
};

export function makeSesSyncState(redis: RedisClient, keyPrefix: string): SesSyncState {
  const script = (name: string) => ({ lua: luaScript(name), numberOfKeys: 1 });
  redis.defineCommand('sesWorkerSesSyncMerge', script('mergeSesSyncRecord'));
  redis.defineCommand('sesWorkerSesSyncRelease', script('releaseLock'));
  redis.defineCommand('sesWorkerSesSyncRenew', script('renewLock'));
  redis.defineCommand('sesWorkerSesSyncReserveSlot', script('reserveRequestSlot'));
  const scripted = redis as ScriptedRedis;
  const p = `${keyPrefix}:ses-sync`;
  const records = `${p}:records`;
  const parse = (raw: string | null): SesSyncRecord | null =>
    raw === null ? null : { ...EMPTY, ...(JSON.parse(raw) as Partial<SesSyncRecord>) };

  return {
    async get(address) {
      return parse(await redis.hget(records, address));
    },
    async getMany(addresses) {
      const found = new Map<EmailAddress, SesSyncRecord>();
      if (addresses.length === 0) return found;
      const raws = await redis.hmget(records, ...addresses);
      raws.forEach((raw, i) => {
        const record = parse(raw);
        if (record !== null) found.set(addresses[i]!, record);
      });
      return found;
    },
    async update(address, patch) {
      await scripted.sesWorkerSesSyncMerge(
        records,
        address,
        JSON.stringify(patch),
        JSON.stringify(EMPTY),
      );
    },
    async updateMany(patches) {
      if (patches.length === 0) return;
      const pipeline = redis.pipeline() as unknown as ScriptedRedis & {
        exec(): Promise<[Error | null, unknown][] | null>;
      };
      const empty = JSON.stringify(EMPTY);
      for (const [address, patch] of patches)
        void pipeline.sesWorkerSesSyncMerge(records, address, JSON.stringify(patch), empty);
      for (const [error] of (await pipeline.exec()) ?? []) if (error) throw error;
    },
    async forget(address) {
      await redis.hdel(records, address);
    },
    async watermark() {
      const raw = await redis.get(`${p}:pull:watermark`);
      return raw === null ? null : Number(raw);
    },
    async progress() {
      const raw = await redis.get(`${p}:pull:progress`);
      return raw === null ? null : (JSON.parse(raw) as PullProgress);
    },
    async saveProgress(progress) {
      await redis.set(`${p}:pull:progress`, JSON.stringify(progress));
    },
    async finishPull(report) {
      // The progress goes last: stopped before that, the next pull resumes the finished window
      // and reads its pages again (imports are merges: harmless), then finishes it again.
      await redis.set(`${p}:pull:watermark`, String(report.until));
      await redis.set(`${p}:pull:last`, JSON.stringify(report));
      await redis.del(`${p}:pull:progress`);
    },
    async lastPull() {
      const raw = await redis.get(`${p}:pull:last`);
      return raw === null ? null : (JSON.parse(raw) as PullReport);
    },
    async waitForRequestSlot(spacingMs) {
      const waitMs = await scripted.sesWorkerSesSyncReserveSlot(
        `${p}:next-request`,
        String(spacingMs),
      );
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
    },
    async lock(ttlMs) {
      const key = `${p}:pull:lock`;
      const token = randomUUID();
      const taken = await redis.set(key, token, 'PX', ttlMs, 'NX');
      if (taken === null) return null;
      return {
        renew: async () => (await scripted.sesWorkerSesSyncRenew(key, token, String(ttlMs))) === 1,
        release: async () => {
          await scripted.sesWorkerSesSyncRelease(key, token);
        },
      };
    },
  };
}
