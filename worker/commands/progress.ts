/**
 * Progress of a long command, on stderr: a bar on a terminal (cli-progress), plain lines every
 * few seconds otherwise (logs, CI), or nothing. Standard output stays for results.
 */
import { Presets, SingleBar } from 'cli-progress';
import type { Io } from '../io';

export interface ProgressOptions {
  /** `bar` needs `stream` to be a terminal. */
  readonly mode: 'bar' | 'lines' | 'none';
  readonly stream?: NodeJS.WriteStream;
  /** Lines mode: at most one line per interval (ms). */
  readonly intervalMs?: number;
  /** Whether standard output is the same terminal: per-message lines there would tear a bar. */
  readonly stdoutIsTTY?: boolean;
}

export interface Progress {
  /** `total` is an estimate and may grow; `status` says what happened so far, in words. */
  update(done: number, total: number, status: string): void;
  stop(): void;
}

const DEFAULT_INTERVAL_MS = 5000;

export function makeProgress(
  label: string,
  options: ProgressOptions,
  io: Io,
  /** The command prints a line per item on standard output. */
  perItemOutput: boolean,
  now: () => number = Date.now,
): Progress {
  const tearsBar = perItemOutput && options.stdoutIsTTY === true;
  if (options.mode === 'bar' && options.stream !== undefined && !tearsBar) {
    return barProgress(label, options.stream);
  }
  if (options.mode === 'none') return { update: () => undefined, stop: () => undefined };
  return lineProgress(label, io, options.intervalMs ?? DEFAULT_INTERVAL_MS, now);
}

function barProgress(label: string, stream: NodeJS.WriteStream): Progress {
  const bar = new SingleBar(
    {
      stream,
      format: `${label} [{bar}] {value}/{total} | {status} | {duration_formatted}`,
      barsize: 30,
      hideCursor: true,
      etaBuffer: 50,
    },
    Presets.shades_classic,
  );
  let started = false;
  let shownTotal = 0;
  return {
    update(done, total, status) {
      const bounded = Math.max(total, done);
      if (!started) {
        bar.start(bounded, done, { status });
        started = true;
      } else if (bounded !== shownTotal) {
        bar.setTotal(bounded);
      }
      shownTotal = bounded;
      bar.update(done, { status });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

function lineProgress(label: string, io: Io, intervalMs: number, now: () => number): Progress {
  let last = now();
  return {
    update(done, total, status) {
      const at = now();
      if (at - last < intervalMs) return;
      last = at;
      io.stderr.write(`${label}: ${done}/${Math.max(total, done)} — ${status}\n`);
    },
    stop: () => undefined,
  };
}
