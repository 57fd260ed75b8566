/**
 * What a chaos suite prints: progress lines stamped with the time since start, what the workers
 * warned about, why a forward went twice, the forwarding window, and last one JSON object with
 * the figures (also kept in bench/results/, as a benchmark's).
 */
import { performance } from 'node:perf_hooks';
import type { Queue } from 'bullmq';
import type { EmailAddress } from '../../domain/address';
import { forwardJobId } from '../../domain/forwarding/policy';
import { writeResult } from '../support/results';
import type { ReceivedMail } from '../support/smtp';
import { forwardedKeyOf, type SmtpHold } from './outcomes';
import type { WorkerPool } from './workers';

const startedAt = performance.now();

export type Say = (line: string) => void;

/** `<suite> <seconds since start>s  <line>` on stdout. */
export function makeSay(suite: string): Say {
  return (line) => console.log(`${suite} ${secondsSinceStart().toFixed(1).padStart(6)}s  ${line}`);
}

export const secondsSinceStart = (): number => (performance.now() - startedAt) / 1000;

/** What the workers warned about, by message: the faults should show, and nothing else. */
export function sayWorkerWarnings(pool: WorkerPool, say: Say): void {
  const counts = new Map<string, { n: number; example: string | undefined }>();
  for (const worker of pool.all()) {
    for (const line of worker.logs) {
      if (line.level === 'warn' || line.level === 'error' || line.level === 'fatal') {
        // "undecodable message: <the error>" counts as one kind of line, whatever the error.
        const key = `${line.level} "${line.msg.split(': ')[0]}"`;
        const seen = counts.get(key);
        if (seen === undefined) counts.set(key, { n: 1, example: errorText(line.err) });
        else seen.n++;
      }
    }
  }
  const top = [...counts].sort((a, b) => b[1].n - a[1].n);
  say(
    `worker warnings and errors: ${
      top
        .map(
          ([key, { n, example }]) => `${key} ×${n}${example === undefined ? '' : ` (${example})`}`,
        )
        .join(', ') || 'none'
    }`,
  );
}

/** A logged `err`: pino writes an Error as an object with its message. */
function errorText(err: unknown): string | undefined {
  if (err === undefined) return undefined;
  if (typeof err === 'object' && err !== null && 'message' in err) return String(err.message);
  return typeof err === 'string' ? err : JSON.stringify(err);
}

/**
 * For each copy forwarded twice: how long before a fault struck its first copy went. `fault`
 * names the kind, as in "a worker SIGKILL".
 */
export function explainDuplicateForwards(
  accepted: readonly ReceivedMail[],
  hold: SmtpHold,
  faultTimes: readonly number[],
  fault: string,
): string[] {
  const first = new Map<string, number>();
  const twice = new Set<string>();
  for (const mail of accepted) {
    const key = forwardedKeyOf(mail);
    const at = hold.acceptedAt(mail);
    if (key === null || at === undefined) continue;
    if (first.has(key)) twice.add(key);
    else first.set(key, at);
  }
  return [...twice].map((key) => {
    const at = first.get(key)!;
    const next = Math.min(...faultTimes.filter((k) => k >= at));
    return Number.isFinite(next)
      ? `duplicate ${key}: first copy accepted ${next - at} ms before a ${fault}`
      : `duplicate ${key}: no ${fault} after its first copy`;
  });
}

/**
 * The at-least-once window of forwarding, measured: from the SMTP server's 250 to the moment the
 * worker recorded the forward job as completed (BullMQ's finishedOn). A process killed inside it
 * sends that copy again when the job is retried.
 */
export async function forwardWindow(
  inbound: Queue,
  accepted: readonly ReceivedMail[],
  hold: SmtpHold,
): Promise<{ forwardWindowP50Ms: number; forwardWindowP99Ms: number; forwardWindowMaxMs: number }> {
  const finishedOn = new Map<string, number>();
  for (const job of await inbound.getJobs(['completed'], 0, -1)) {
    if (job.id !== undefined && job.finishedOn !== undefined)
      finishedOn.set(job.id, job.finishedOn);
  }
  const windows: number[] = [];
  for (const mail of accepted) {
    const key = forwardedKeyOf(mail);
    const at = hold.acceptedAt(mail);
    if (key === null || at === undefined) continue;
    const [sesMessageId, target] = key.split(' ') as [string, string];
    const done = finishedOn.get(forwardJobId(sesMessageId, target as EmailAddress));
    if (done !== undefined && done >= at) windows.push(done - at);
  }
  windows.sort((a, b) => a - b);
  const at = (share: number) =>
    windows[Math.min(windows.length - 1, Math.floor(share * windows.length))] ?? 0;
  return { forwardWindowP50Ms: at(0.5), forwardWindowP99Ms: at(0.99), forwardWindowMaxMs: at(1) };
}

/** bench/results/<file>.json, as a benchmark's result is recorded; then the JSON line. */
export function recordResult(
  suite: string,
  file: string,
  figures: Record<string, number | string>,
): void {
  writeResult(file, { suite, ...figures });
}

/**
 * Runs a suite's `main` to its exit code. If the suite itself breaks (a server would not start, a
 * wait timed out), it still ends with one JSON line, saying so.
 */
export function runSuite(suite: string, seed: number, main: () => Promise<number>): void {
  // The servers' child processes are unreferenced (servers.ts), so while the suite only waits
  // for them to end nothing would keep Node running: it would exit 0 before main() returned.
  const keepAlive = setInterval(() => undefined, 60_000);
  main()
    .then(
      (code) => {
        process.exitCode = code;
      },
      (error: unknown) => {
        console.error(error);
        const message = error instanceof Error ? error.message : String(error);
        console.log(JSON.stringify({ suite, error: message.split('\n')[0], seed }));
        process.exitCode = 1;
      },
    )
    .finally(() => clearInterval(keepAlive));
}
