/**
 * `ses-worker suppression pull [--since ISO]`, `suppression push --all [--bulk]` and
 * `suppression remove --ses ADDRESS`: SES's account-level suppression list from a shell.
 *
 * - pull: imports SES's list page by page (progress on stderr); interrupted, the next pull
 *   resumes at the page it was on (see worker/sesSyncPull.ts).
 * - push --all: queues a check (then a put) on `ses-sync` for every global entry SES is not
 *   known to hold; a running worker with SES_SUPPRESSION_SYNC=push|both works through them at
 *   the configured rate.
 * - push --all --bulk: writes the entries as CSV to S3 (SES_SYNC_IMPORT_BUCKET), in objects of
 *   at most 100,000 rows (SES's limit per import), starts one CreateImportJob (action PUT) per
 *   object and polls each to completion.
 * - remove --ses: the explicit way to delete an address from SES that the worker did not put.
 */
import { describeRedis } from '../config';
import { connectRedis, type RedisClient } from '../../adapters/redis/connection';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SESv2Client } from '@aws-sdk/client-sesv2';
import { HOW_TO_START_REDIS, redisUnreachable } from '../../adapters/redis/probe';
import { makeSesSyncState, type SesSyncState } from '../../adapters/redis/sesSyncState';
import { makeSuppressionStore } from '../../adapters/redis/suppressionStore';
import { makeS3Client } from '../../adapters/s3/messages';
import {
  makeSesClient,
  makeSesSuppressionList,
  SesRequestError,
  type SesSuppressionList,
} from '../../adapters/ses/suppressionList';
import type { EmailAddress } from '../../domain/address';
import type { SuppressionStore } from '../../domain/ports';
import { SES_IMPORT_KEY_PREFIX, sesHolds, sesTarget, type SesReason } from '../../domain/sesSync';
import { configOrExit, type WorkerConfig } from '../config';
import { EXIT, type Io } from '../io';
import {
  addSesSyncJobs,
  makeSesSyncQueue,
  sesRequestSpacingMs,
  type SesSyncJobSpec,
} from '../sesSync';
import { redactText } from '../../domain/redact';
import { pullFromSes } from '../sesSyncPull';
import type { Progress } from './progress';
import { addressArgument, progressFor } from './suppression';

/** SES reads at most this many rows from one import object. */
export const MAX_IMPORT_ROWS = 100_000;
const IMPORT_POLL_MS = 2000;

export interface SesCommandContext {
  readonly io: Io;
  readonly progress: boolean;
  readonly signal?: AbortSignal;
  /** For tests: how often an import job is polled. */
  readonly importPollMs?: number;
}

interface SesCommandDeps {
  readonly config: WorkerConfig;
  readonly redis: RedisClient;
  readonly store: SuppressionStore;
  readonly state: SesSyncState;
  readonly list: SesSuppressionList;
}

/** Configuration, Redis and the SES client, or the exit code after one line on stderr. */
async function withSes(
  env: NodeJS.ProcessEnv,
  io: Io,
  run: (deps: SesCommandDeps) => Promise<number>,
): Promise<number> {
  const config = configOrExit(env, io);
  if (typeof config === 'number') return config;
  if (config.sesSync.region === null) {
    io.stderr.write(
      'ses-worker: configuration: AWS_REGION: expected the SES region (e.g. eu-west-1), got ""\n',
    );
    return EXIT.config;
  }
  const unreachable = await redisUnreachable(config.redis);
  if (unreachable !== null) {
    io.stderr.write(
      `ses-worker: Redis at ${describeRedis(config.redis)} is unreachable (${unreachable}); ${HOW_TO_START_REDIS}\n`,
    );
    return EXIT.unavailable;
  }
  const redis = connectRedis(config.redis, { maxRetriesPerRequest: 1 });
  redis.on('error', () => undefined); // each command reports its own failure
  const client: SESv2Client = makeSesClient({ region: config.sesSync.region });
  const state = makeSesSyncState(redis, config.bullmqPrefix);
  try {
    return await run({
      config,
      redis,
      store: makeSuppressionStore(redis, config.bullmqPrefix, config.suppression.store),
      state,
      // Paced with the workers: the account's rate is shared by everything that calls SES.
      list: makeSesSuppressionList(client, () =>
        state.waitForRequestSlot(sesRequestSpacingMs(config.sesSync.ratePerSecond)),
      ),
    });
  } catch (error) {
    if (!(error instanceof SesRequestError)) throw error;
    io.stderr.write(`ses-worker: SES: ${redactText(error.message)}\n`);
    return EXIT.unavailable;
  } finally {
    client.destroy();
    await redis.quit().catch(() => redis.disconnect());
  }
}

const line = (io: Io, value: unknown) => io.stdout.write(`${JSON.stringify(value)}\n`);

export async function sesPullCommand(
  env: NodeJS.ProcessEnv,
  options: { readonly since?: string },
  ctx: SesCommandContext,
): Promise<number> {
  const { io } = ctx;
  let since: Date | undefined;
  if (options.since !== undefined) {
    since = new Date(options.since);
    if (Number.isNaN(since.getTime()) || !/^\d{4}-\d\d-\d\d/.test(options.since)) {
      io.stderr.write(
        `ses-worker: --since: expected an ISO 8601 time (2026-11-01T00:00:00Z), got ${JSON.stringify(options.since)}\n`,
      );
      return EXIT.usage;
    }
  }
  return withSes(env, io, async ({ config, state, store, list }) => {
    const progress = progressFor('ses-worker suppression pull', ctx.progress, io);
    try {
      const { end, progress: done } = await pullFromSes({
        list,
        state,
        store,
        ...(since === undefined ? {} : { since }),
        spacingMs: sesRequestSpacingMs(config.sesSync.ratePerSecond),
        ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
        onPage: (p) =>
          progress.update(
            p.seen,
            p.seen + (p.nextToken === null ? 0 : 1000),
            `${p.imported} imported`,
          ),
      });
      progress.stop();
      line(io, {
        end,
        since: done.since === null ? null : new Date(done.since).toISOString(),
        until: new Date(done.until).toISOString(),
        pages: done.pages,
        seen: done.seen,
        imported: done.imported,
      });
      return end === 'done' ? EXIT.ok : EXIT.interrupted;
    } finally {
      progress.stop();
    }
  });
}

/** Every global entry SES should hold and is not known to, page by page. */
async function* toPush(
  store: SuppressionStore,
  state: SesSyncState,
): AsyncGenerator<{ address: EmailAddress; reason: SesReason; firstAt: number }[]> {
  let cursor: string | undefined;
  do {
    const page = await store.list({
      scope: 'global',
      limit: 1000,
      ...(cursor === undefined ? {} : { cursor }),
    });
    const records = await state.getMany(page.entries.map((e) => e.address));
    const batch = [];
    for (const entry of page.entries) {
      const reason = sesTarget(entry);
      if (reason !== null && !sesHolds(records.get(entry.address) ?? null, reason))
        batch.push({ address: entry.address, reason, firstAt: Date.parse(entry.firstAt) });
    }
    yield batch;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
}

export async function sesPushAllCommand(
  env: NodeJS.ProcessEnv,
  options: { readonly bulk: boolean },
  ctx: SesCommandContext,
): Promise<number> {
  const { io } = ctx;
  const config = configOrExit(env, io);
  if (typeof config === 'number') return config;
  if (options.bulk && config.sesSync.importBucket === null) {
    io.stderr.write(
      'ses-worker: configuration: SES_SYNC_IMPORT_BUCKET: expected the S3 bucket --bulk writes its CSV to, got ""\n',
    );
    return EXIT.config;
  }
  return withSes(env, io, (deps) => (options.bulk ? bulkPush(deps, ctx) : queuedPush(deps, ctx)));
}

async function queuedPush(deps: SesCommandDeps, ctx: SesCommandContext): Promise<number> {
  const { config, redis, store, state } = deps;
  const queue = makeSesSyncQueue(redis, config.bullmqPrefix, config.jobs);
  const counts = await store.counts();
  const progress = progressFor('ses-worker suppression push --all', ctx.progress, ctx.io);
  let queued = 0;
  let read = 0;
  try {
    for await (const batch of toPush(store, state)) {
      const specs: SesSyncJobSpec[] = batch.map(({ address, reason, firstAt }) => ({
        job: { step: 'check', address, reason },
        generation: firstAt,
      }));
      await addSesSyncJobs(queue, specs);
      queued += specs.length;
      read += 1000;
      progress.update(Math.min(read, counts.total), counts.total, `${queued} queued`);
    }
  } finally {
    progress.stop();
    await queue.close();
  }
  line(ctx.io, { queued, mode: config.sesSync.mode });
  if (config.sesSync.mode === 'off' || config.sesSync.mode === 'pull')
    ctx.io.stderr.write(
      `ses-worker: queued on ses-sync; a worker with SES_SUPPRESSION_SYNC=push or both sends them (this one has ${config.sesSync.mode})\n`,
    );
  return EXIT.ok;
}

async function bulkPush(deps: SesCommandDeps, ctx: SesCommandContext): Promise<number> {
  const { config, store, state, list } = deps;
  const bucket = config.sesSync.importBucket!;
  const s3: S3Client = makeS3Client({
    region: config.sesSync.region,
    customEndpoint: config.sesSync.s3CustomEndpoint,
  });
  const progress = progressFor('ses-worker suppression push --all --bulk', ctx.progress, ctx.io);
  const runId = new Date().toISOString().replaceAll(/[:.]/g, '-');
  const jobs: { key: string; jobId: string; rows: number; processed: number; failed: number }[] =
    [];
  try {
    let rows: { address: EmailAddress; reason: SesReason }[] = [];
    const flush = async () => {
      if (rows.length === 0) return;
      const key = `${SES_IMPORT_KEY_PREFIX}${runId}-${jobs.length + 1}.csv`;
      // SES's CSV: one "address,REASON" per line, no header.
      const body = rows.map((r) => `${r.address},${r.reason}\n`).join('');
      await s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'text/csv' }),
      );
      const jobId = await list.createImport(`s3://${bucket}/${key}`);
      const job = { key, jobId, rows: rows.length, processed: 0, failed: 0 };
      jobs.push(job);
      const result = await pollImport(list, job, ctx, progress);
      if (result.status !== 'COMPLETED')
        throw new BulkFailure(
          `import job ${jobId} ended ${result.status}: ${result.failureReason ?? ''}`,
        );
      // Recorded as the worker's: a lift deletes them from SES. Those SES was known to hold
      // (pulled, or checked) were left out of the file and stay SES's.
      await state.updateMany(
        rows.map(({ address, reason }) => [address, { sesReason: reason, pushedAt: Date.now() }]),
      );
      rows = [];
    };
    for await (const batch of toPush(store, state)) {
      for (const row of batch) {
        rows.push(row);
        if (rows.length === MAX_IMPORT_ROWS) await flush();
      }
    }
    await flush();
  } catch (error) {
    if (!(error instanceof BulkFailure)) throw error;
    progress.stop();
    ctx.io.stderr.write(`ses-worker: ${error.message}\n`);
    line(ctx.io, { imports: jobs });
    return EXIT.unavailable;
  } finally {
    progress.stop();
    s3.destroy();
  }
  line(ctx.io, {
    imports: jobs.map(({ jobId, rows, processed, failed }) => ({ jobId, rows, processed, failed })),
    rows: jobs.reduce((sum, j) => sum + j.rows, 0),
  });
  return jobs.some((j) => j.failed > 0) ? EXIT.dataError : EXIT.ok;
}

class BulkFailure extends Error {}

async function pollImport(
  list: SesSuppressionList,
  job: { jobId: string; rows: number; processed: number; failed: number },
  ctx: SesCommandContext,
  progress: Progress,
) {
  for (;;) {
    const status = await list.getImport(job.jobId);
    job.processed = status.processed;
    job.failed = status.failed;
    progress.update(
      status.processed + status.failed,
      job.rows,
      `import ${job.jobId}: ${status.status.toLowerCase()}`,
    );
    if (['COMPLETED', 'FAILED', 'CANCELLED'].includes(status.status)) return status;
    await new Promise((resolve) => setTimeout(resolve, ctx.importPollMs ?? IMPORT_POLL_MS));
  }
}

/** Deletes the address from SES (whoever put it), and forgets what the worker knew of it. */
export async function sesRemoveCommand(
  env: NodeJS.ProcessEnv,
  raw: string,
  ctx: SesCommandContext,
): Promise<number> {
  const address = addressArgument(raw);
  return withSes(env, ctx.io, async ({ state, list }) => {
    const held = await list.delete(address);
    await state.forget(address);
    line(ctx.io, { address, ses: held ? 'deleted' : 'notInSes' });
    return held ? EXIT.ok : 1;
  });
}
