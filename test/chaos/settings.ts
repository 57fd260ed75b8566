/** The chaos suites' settings, read from the environment: a bad value stops the suite at once. */

export function flag(name: string, fallback: boolean): boolean {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  if (text !== 'true' && text !== 'false')
    throw new Error(`${name} must be true or false, not ${JSON.stringify(text)}`);
  return text === 'true';
}

export function positiveInteger(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name} must be a positive integer, not ${JSON.stringify(text)}`);
  }
  return value;
}

/** CHAOS_SEED, or a random one: printed, so that a run can be repeated. */
export const seedFromEnv = (): number =>
  positiveInteger('CHAOS_SEED', Math.floor(Math.random() * 2 ** 31));
