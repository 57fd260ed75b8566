/**
 * The JSON samples embedded in the SES documentation seeds (../shared/seeds/, beside this
 * repository). The fixtures in test/fixtures/event-publishing/ are extracted from them; the
 * seed test checks that the two still agree.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const SEEDS_DIR = resolve(__dirname, '..', '..', '..', 'shared', 'seeds');

/** Every top-level `{…}` in `text` that parses as JSON, in order. */
export function jsonObjectsIn(text: string): unknown[] {
  const found: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"' && depth > 0) {
      inString = true;
    } else if (ch === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (ch === '}' && depth > 0) {
      depth--;
      if (depth === 0) {
        try {
          found.push(JSON.parse(text.slice(start, i + 1)));
        } catch {
          // Prose with braces in it: not a sample.
        }
      }
    }
  }
  return found;
}

export interface SeedSample {
  readonly seed: string;
  readonly index: number;
  readonly json: unknown;
}

export function seedSamples(dir = SEEDS_DIR): SeedSample[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.txt'))
    .sort()
    .flatMap((seed) =>
      jsonObjectsIn(readFileSync(join(dir, seed), 'utf8')).map((json, index) => ({
        seed,
        index,
        json,
      })),
    );
}
