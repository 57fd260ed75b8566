/** Shared by the benchmarks: side-by-side measurement and the recorded result. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '..', '..');

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Operations per second of `run` over `inputs`, repeated until at least `minMs` has passed. */
export function ratePerSec<T>(
  inputs: readonly T[],
  run: (input: T) => void,
  minMs: number,
): number {
  let operations = 0;
  const start = process.hrtime.bigint();
  let elapsedMs = 0;
  do {
    for (const input of inputs) run(input);
    operations += inputs.length;
    elapsedMs = Number(process.hrtime.bigint() - start) / 1e6;
  } while (elapsedMs < minMs);
  return (operations * 1000) / elapsedMs;
}

/** Prints the figures, records them in bench/results/NAME.json, and ends with the JSON line. */
export function record(name: string, figures: Record<string, number | string>): void {
  const result = { bench: name, ...figures };
  const dir = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const context = {
    recordedAt: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
  };
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify({ ...result, context }, null, 2)}\n`);
  console.log(JSON.stringify(result));
}
