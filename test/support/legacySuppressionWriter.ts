/**
 * Writes the suppression list as the version before buckets did: its own script, kept as a
 * fixture (test/fixtures/legacy/applySuppressionChanges.layout1.lua, that version's file
 * unchanged), called as that version's store called it. The migration test starts from a list
 * written this way, not from keys a test made up. Its keys share the prefix's hash tag: one
 * slot on a cluster, as that version needed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RedisClient } from '../../adapters/redis/connection';
import type { SuppressionNotification } from '../../domain/ports';
import { SUPPRESSION_REASONS, type SuppressionChange } from '../../domain/suppression';

const SCRIPT = readFileSync(
  join(__dirname, '..', 'fixtures', 'legacy', 'applySuppressionChanges.layout1.lua'),
  'utf8',
);

export async function writeLegacyLayout(
  redis: RedisClient,
  keyPrefix: string,
  notifications: readonly SuppressionNotification[],
): Promise<string[][][]> {
  const p = `${keyPrefix}:suppression`;
  const scopeKey = (scope: string) => `${p}:scope:${scope}`;
  const keys = [`${p}:index`, `${p}:audit`, ...SUPPRESSION_REASONS.map((r) => `${p}:index:${r}`)];
  const positions = new Map<string, number>();
  const position = (key: string): number => {
    let at = positions.get(key);
    if (at === undefined) {
      keys.push(key);
      at = keys.length;
      positions.set(key, at);
    }
    return at;
  };
  const payload = notifications.map(({ address, changes, eventKey }) => {
    const resetsOnly = changes.every((c) => c.type === 'resetTransient');
    const liftsOnly = changes.every((c) => c.type === 'lift');
    const marked = liftsOnly ? null : eventKey;
    return {
      address,
      ...(marked === null ? {} : { marker: position(`${p}:applied:${marked}`) }),
      ...(resetsOnly ? { markWithHistory: true } : {}),
      scopes: position(`${p}:address:${address}`),
      history: position(`${p}:history:${address}`),
      transient: position(`${p}:transient:${address}`),
      lifted: position(`${p}:lifted:${address}`),
      global: position(scopeKey('global')),
      changes: changes.map((change) => {
        const scripted = legacyChange(change);
        return change.type === 'suppress' || change.type === 'lift' || change.type === 'remove'
          ? { ...scripted, key: position(scopeKey(change.scope)) }
          : scripted;
      }),
    };
  });
  return (await redis.eval(
    SCRIPT,
    keys.length,
    ...keys,
    String(Date.now()),
    String(30 * 86_400),
    '50',
    '100000',
    JSON.stringify(SUPPRESSION_REASONS),
    JSON.stringify(payload),
  )) as string[][][];
}

function legacyChange(change: SuppressionChange): Record<string, unknown> {
  const at = Date.parse(change.evidence.at);
  if (change.type === 'record') return { ...change };
  if (change.type === 'countTransient')
    return {
      ...change,
      at,
      member: change.evidence.feedbackId ?? change.evidence.sesMessageId ?? String(at),
    };
  return { ...change, at };
}
