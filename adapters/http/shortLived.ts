/**
 * A result kept for a moment and shared by concurrent callers: an open page or endpoint that
 * many clients (or one in a loop) request costs Redis one read per `ttlMs`, not one per request.
 */
export function shortLived<K, V>(
  ttlMs: number,
  compute: (key: K) => Promise<V>,
  now: () => number = Date.now,
): (key: K) => Promise<V> {
  const kept = new Map<K, { readonly at: number; readonly value: Promise<V> }>();
  return (key) => {
    const entry = kept.get(key);
    if (entry !== undefined && now() - entry.at < ttlMs) return entry.value;
    const value = compute(key);
    kept.set(key, { at: now(), value });
    // A failure is not kept: the next request tries again.
    value.catch(() => {
      if (kept.get(key)?.value === value) kept.delete(key);
    });
    return value;
  };
}
