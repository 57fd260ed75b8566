/**
 * A promise that rejects with `no answer within <ms> ms` when `promise` has not settled by
 * then. The call itself goes on (nothing here can cancel it); callers that can abort pass their
 * own signal as well.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
