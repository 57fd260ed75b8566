/**
 * npm run fuzz — fast-check over the full decode path: 100,000 generated SQS bodies (the
 * generators and properties of test/support/fuzz.ts: mutated fixtures raw and in SNS envelopes,
 * envelopes with broken Messages, random JSON and text), each decoded twice by decodeSqsBody and
 * its event routed. A run fails on the first broken property, which fast-check then shrinks.
 *
 * The fuzzing runs in a worker thread so that this thread can watch it: an input that takes
 * longer than MAX_INPUT_MS fails the run (checked by the worker around each input), and one
 * that never returns (an endless loop cannot time itself) is caught by the watchdog here, which
 * ends the worker after HANG_MS without progress. Memory is bounded three ways: the worker's
 * heap is capped (MAX_OLD_GENERATION_MB: a leak ends in ERR_WORKER_OUT_OF_MEMORY), its heap
 * after a full GC may grow by at most MAX_HEAP_GROWTH_MB from start to end, and the process's
 * RSS by at most MAX_RSS_GROWTH_MB.
 *
 * Before the generated inputs, every run replays the regression corpus (regressionInputs in
 * test/support/fuzz.ts): inputs that once broke a property, at full size. A run that comes to
 * an end is recorded in bench/results/fuzz.json, failures included.
 *
 * FUZZ_RUNS overrides the number of inputs; FUZZ_SEED (printed at the start) replays a run, and
 * FUZZ_SEED with FUZZ_PATH (printed on failure) replays just the failing input.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import {
  FULL_SIZE,
  FuzzViolation,
  OUTCOMES,
  SOURCES,
  checkDecode,
  excerpt,
  fuzzInput,
  loadCorpus,
  regressionInputs,
  type FuzzInput,
  type Outcome,
  type Source,
} from '../test/support/fuzz';
import { record } from './support';

/** The time bound on one input: two decodes, the checks and the routing of what decoded. */
const MAX_INPUT_MS = 1_000;
/** No input finished for this long: the worker is stuck, and is ended. */
const HANG_MS = 30_000;
const WATCH_MS = 250;
const PROGRESS_EVERY_MS = 10_000;
const MAX_OLD_GENERATION_MB = 1_024;
const MAX_HEAP_GROWTH_MB = 32;
const MAX_RSS_GROWTH_MB = 256;

interface WorkerInput {
  readonly runs: number;
  readonly seed: number;
  readonly path: string | undefined;
  /** Int32Array[1] over a SharedArrayBuffer: inputs checked so far (shrinking included). */
  readonly progress: SharedArrayBuffer;
}

interface Memory {
  readonly heapUsedMb: number;
  readonly rssMb: number;
}

interface WorkerReport {
  /** Generated inputs checked (shrinking not counted). */
  readonly runs: number;
  /** Inputs of the regression corpus checked first. */
  readonly regressions: number;
  readonly seconds: number;
  readonly counts: Record<Source, Record<Outcome, number>>;
  readonly meanInputUs: number;
  readonly maxInputMs: number;
  readonly slowest: string;
  /** Characters of the longest input. */
  readonly largest: number;
  readonly before: Memory;
  readonly after: Memory;
  /** Broken properties: corpus inputs, then the (shrunk) generated input that failed, if any. */
  readonly failures: readonly Failure[];
}

interface Failure {
  readonly error: string;
  readonly seed: number;
  readonly path: string;
  readonly source: string;
  readonly body: string;
}

const mb = (bytes: number): number => Math.round((bytes / 2 ** 20) * 10) / 10;

/** A full collection: `--expose-gc` if given, else switched on here. */
function collectGarbage(): void {
  let gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}

function memoryNow(): Memory {
  collectGarbage();
  const { heapUsed, rss } = process.memoryUsage();
  return { heapUsedMb: mb(heapUsed), rssMb: mb(rss) };
}

// ---------------------------------------------------------------------------------------------
// The worker: generates, checks and counts

function fuzz({ runs, seed, path, progress }: WorkerInput): WorkerReport {
  const done = new Int32Array(progress);
  const arbitrary = fuzzInput(loadCorpus(), FULL_SIZE);
  const counts = Object.fromEntries(
    SOURCES.map((s) => [s, Object.fromEntries(OUTCOMES.map((o) => [o, 0]))]),
  ) as Record<Source, Record<Outcome, number>>;
  let checked = 0;
  let totalMs = 0;
  let maxInputMs = 0;
  let slowest = '';
  let largest = 0;
  let shrinking = false;
  const before = memoryNow();

  /** Checks one input within the time bound; returns its outcome and time. */
  const timed = (body: string): [Outcome, number] => {
    const start = performance.now();
    try {
      const outcome = checkDecode(body);
      const ms = performance.now() - start;
      if (ms > MAX_INPUT_MS) {
        throw new FuzzViolation(`one input took ${Math.round(ms)} ms (at most ${MAX_INPUT_MS})`);
      }
      return [outcome, ms];
    } finally {
      Atomics.add(done, 0, 1);
    }
  };
  const failures: Failure[] = [];
  const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

  // The corpus first: each input that once broke a property.
  const regressions = regressionInputs(FULL_SIZE);
  for (const [name, body] of regressions) {
    try {
      timed(body);
    } catch (error) {
      failures.push({
        error: `${name}: ${message(error)}`,
        seed,
        path: '',
        source: 'regression',
        body,
      });
    }
  }

  const started = performance.now();
  const details = fc.check(
    fc.property(arbitrary, ({ source, body }: FuzzInput) => {
      let outcome: Outcome;
      let ms: number;
      try {
        [outcome, ms] = timed(body);
      } catch (error) {
        shrinking = true; // fast-check now shrinks the input: count no more
        throw error;
      }
      if (shrinking) return;
      counts[source][outcome]++;
      checked++;
      totalMs += ms;
      largest = Math.max(largest, body.length);
      if (ms > maxInputMs) [maxInputMs, slowest] = [ms, `${source}, ${body.length} characters`];
    }),
    path === undefined ? { seed, numRuns: runs } : { seed, path, numRuns: runs },
  );
  const seconds = (performance.now() - started) / 1000;
  const after = memoryNow();
  if (details.failed) {
    const [input] = (details.counterexample ?? [{ source: '?', body: '' }]) as [FuzzInput];
    failures.push({
      error: message(details.errorInstance),
      seed: details.seed,
      path: details.counterexamplePath ?? '',
      source: input.source,
      body: input.body,
    });
  }
  return {
    runs: checked,
    regressions: regressions.length,
    seconds,
    counts,
    meanInputUs: checked === 0 ? 0 : Math.round((totalMs * 1000) / checked),
    maxInputMs: Math.round(maxInputMs * 10) / 10,
    slowest,
    largest,
    before,
    after,
    failures,
  };
}

// ---------------------------------------------------------------------------------------------
// The main thread: starts the worker, watches it, judges and records

function positiveInteger(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new Error(`${name} must be a positive integer, not ${JSON.stringify(raw)}`);
  }
  return value;
}

function seedFromEnv(): number {
  const raw = process.env.FUZZ_SEED;
  if (raw === undefined || raw === '') return (Math.random() * 2 ** 31) | 0;
  const value = Number(raw);
  if (!Number.isInteger(value) || Math.abs(value) >= 2 ** 31) {
    throw new Error(`FUZZ_SEED must be a 32-bit integer, not ${JSON.stringify(raw)}`);
  }
  return value;
}

type Ending =
  | { readonly type: 'report'; readonly report: WorkerReport }
  | { readonly type: 'error'; readonly error: Error }
  | { readonly type: 'hang'; readonly input: number };

function runWorker(input: WorkerInput, onTick: (inputs: number) => void): Promise<Ending> {
  const done = new Int32Array(input.progress);
  const worker = new Worker(__filename, {
    workerData: input,
    resourceLimits: { maxOldGenerationSizeMb: MAX_OLD_GENERATION_MB },
  });
  return new Promise<Ending>((resolve) => {
    let ending: Ending | null = null;
    let seen = -1;
    let seenAt = performance.now();
    const watch = setInterval(() => {
      const now = performance.now();
      const count = Atomics.load(done, 0);
      onTick(count);
      if (count !== seen) [seen, seenAt] = [count, now];
      else if (now - seenAt > HANG_MS && ending === null) {
        ending = { type: 'hang', input: count + 1 };
        void worker.terminate();
      }
    }, WATCH_MS);
    worker.on('message', (report: WorkerReport) => (ending ??= { type: 'report', report }));
    worker.on('error', (error: Error) => (ending ??= { type: 'error', error }));
    worker.on('exit', (code) => {
      clearInterval(watch);
      resolve(ending ?? { type: 'error', error: new Error(`the fuzz worker exited with ${code}`) });
    });
  });
}

function printCounts(report: WorkerReport): void {
  const width = Math.max(...SOURCES.map((s) => s.length));
  console.log(`${''.padEnd(width)}  ${OUTCOMES.map((o) => o.padStart(12)).join('')}`);
  for (const source of SOURCES) {
    const row = OUTCOMES.map((o) => String(report.counts[source][o]).padStart(12)).join('');
    console.log(`${source.padEnd(width)}  ${row}`);
  }
}

/** The whole counterexample, for the regression corpus; the console gets an excerpt. */
function saveFailure(failure: Failure, index: number): string {
  const file = join(tmpdir(), `ses-worker-fuzz-${failure.seed}-${index}.json`);
  writeFileSync(file, `${JSON.stringify(failure, null, 2)}\n`);
  return file;
}

function describeFailure(failure: Failure, index: number): string {
  const replay =
    failure.source === 'regression'
      ? 'every run replays the corpus (regressionInputs in test/support/fuzz.ts)'
      : `replay: FUZZ_SEED=${failure.seed} FUZZ_PATH=${failure.path} npm run fuzz`;
  return (
    `${failure.error}\n  input (${failure.source}): ${excerpt(failure.body, 400)}\n` +
    `  saved to ${saveFailure(failure, index)}\n  ${replay}`
  );
}

async function main(): Promise<void> {
  const runs = positiveInteger('FUZZ_RUNS', 100_000);
  const seed = seedFromEnv();
  const path = process.env.FUZZ_PATH || undefined;
  console.log(
    `fuzz: ${runs} inputs, seed ${seed} (replay: FUZZ_SEED=${seed} npm run fuzz); ` +
      `bounds: ${MAX_INPUT_MS} ms per input, heap +${MAX_HEAP_GROWTH_MB} MB, ` +
      `RSS +${MAX_RSS_GROWTH_MB} MB, old generation ${MAX_OLD_GENERATION_MB} MB`,
  );
  let peakRss = process.memoryUsage().rss;
  let lastPrint = performance.now();
  const started = performance.now();
  const ending = await runWorker(
    { runs, seed, path, progress: new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT) },
    (inputs) => {
      const { rss } = process.memoryUsage();
      peakRss = Math.max(peakRss, rss);
      const now = performance.now();
      if (now - lastPrint < PROGRESS_EVERY_MS) return;
      lastPrint = now;
      const seconds = (now - started) / 1000;
      console.log(
        `${seconds.toFixed(0)} s: ${inputs} inputs (${Math.round(inputs / seconds)}/s), RSS ${mb(rss)} MB`,
      );
    },
  );

  const problems: string[] = [];
  if (ending.type === 'hang') {
    // The worker checks the corpus first, then the generated inputs.
    const corpus = regressionInputs(FULL_SIZE).map(([name]) => name);
    const generated = ending.input - corpus.length;
    problems.push(
      generated <= 0
        ? `the corpus input "${corpus[ending.input - 1]}" did not finish in ${HANG_MS / 1000} s`
        : `input ${generated} did not finish in ${HANG_MS / 1000} s: replay with FUZZ_SEED=${seed} FUZZ_RUNS=${generated}`,
    );
  } else if (ending.type === 'error') {
    problems.push(
      `the fuzz worker failed: ${ending.error.message} (replay: FUZZ_SEED=${seed} FUZZ_RUNS=${runs})`,
    );
  }
  const report = ending.type === 'report' ? ending.report : null;
  if (report !== null) {
    peakRss = Math.max(peakRss, report.after.rssMb * 2 ** 20);
    printCounts(report);
    const { failures, before, after } = report;
    failures.forEach((failure, i) => problems.push(describeFailure(failure, i)));
    const heapGrowth = after.heapUsedMb - before.heapUsedMb;
    if (heapGrowth > MAX_HEAP_GROWTH_MB) {
      problems.push(
        `heap after GC grew by ${heapGrowth.toFixed(1)} MB (at most ${MAX_HEAP_GROWTH_MB})`,
      );
    }
    const rssGrowth = after.rssMb - before.rssMb;
    if (rssGrowth > MAX_RSS_GROWTH_MB) {
      problems.push(`RSS grew by ${rssGrowth.toFixed(1)} MB (at most ${MAX_RSS_GROWTH_MB})`);
    }
    console.log(
      `${report.regressions} corpus inputs, then ${report.runs} generated in ${report.seconds.toFixed(1)} s; per input mean ${report.meanInputUs} µs, ` +
        `max ${report.maxInputMs} ms (${report.slowest}); heap ${before.heapUsedMb} → ${after.heapUsedMb} MB, ` +
        `RSS ${before.rssMb} → ${after.rssMb} MB (peak ${mb(peakRss)} MB)`,
    );
  }
  for (const problem of problems) console.error(`FAILED: ${problem}`);

  const totals = Object.fromEntries(
    OUTCOMES.map((o) => [
      o,
      report === null ? 0 : SOURCES.reduce((n, s) => n + report.counts[s][o], 0),
    ]),
  );
  const figures = {
    runs: report?.runs ?? 0,
    regressionInputs: report?.regressions ?? 0,
    failures: problems.length,
    seed,
    inputsPerSec: report === null ? 0 : Math.round(report.runs / report.seconds),
    ...totals,
    meanInputUs: report?.meanInputUs ?? 0,
    maxInputMs: report?.maxInputMs ?? 0,
    maxInputMsBound: MAX_INPUT_MS,
    largestInputChars: report?.largest ?? 0,
    heapBeforeMb: report?.before.heapUsedMb ?? 0,
    heapAfterMb: report?.after.heapUsedMb ?? 0,
    rssBeforeMb: report?.before.rssMb ?? 0,
    rssAfterMb: report?.after.rssMb ?? 0,
    peakRssMb: mb(peakRss),
    rssGrowthBoundMb: MAX_RSS_GROWTH_MB,
    ...(problems.length > 0 ? { firstFailure: problems[0]!.split('\n')[0]! } : {}),
  };
  if (problems.length > 0) process.exitCode = 1;
  // A run that came to an end is recorded, failures included: they are its result. One that
  // hung or died has no figures to record; its line still ends the output.
  if (report !== null) record('fuzz', figures);
  else console.log(JSON.stringify({ bench: 'fuzz', ...figures }));
}

if (isMainThread) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
} else {
  parentPort!.postMessage(fuzz(workerData as WorkerInput));
}
