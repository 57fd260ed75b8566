/**
 * bench/results/<file>.json: a benchmark's or a chaos suite's figures, with where they were
 * measured; then the same figures as one JSON line, the last thing the run prints.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';

/** From the compiled copy (dist/test/support), which is the only one that runs this. */
const REPO_ROOT = resolve(__dirname, '..', '..', '..');

export function writeResult(file: string, result: Record<string, unknown>): void {
  const dir = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const context = {
    recordedAt: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
  };
  writeFileSync(join(dir, `${file}.json`), `${JSON.stringify({ ...result, context }, null, 2)}\n`);
  console.log(JSON.stringify(result));
}
