/**
 * cachedReading: reads at most once per TTL however many scrapes ask, shares a read in flight,
 * bounds a read by its timeout, keeps the last good value through failures (reporting the
 * change of state once each way) and never rejects.
 */
import { cachedReading, type Reading } from '../../../adapters/metrics/cachedReading';

/** A read whose answers the test hands out one by one, counting the calls. */
function scriptedRead<T>() {
  const pending: { resolve: (r: Reading<T>) => void; reject: (e: Error) => void }[] = [];
  const read = jest.fn(
    () => new Promise<Reading<T>>((resolve, reject) => pending.push({ resolve, reject })),
  );
  return {
    read,
    answer: (value: T, at: number) => pending.shift()!.resolve({ value, at }),
    fail: (message: string) => pending.shift()!.reject(new Error(message)),
  };
}

const TTL_MS = 15_000;

describe('cachedReading', () => {
  let clock = 1_000_000;
  const now = () => clock;
  beforeEach(() => {
    clock = 1_000_000;
  });

  it('reads once per TTL, and scrapes in between get the value in memory', async () => {
    const source = scriptedRead<number>();
    const reading = cachedReading(source.read, { ttlMs: TTL_MS, timeoutMs: 1000, now });

    const first = reading.current();
    source.answer(7, clock);
    expect(await first).toEqual({ value: 7, at: clock });
    clock += TTL_MS - 1;
    expect(await reading.current()).toEqual({ value: 7, at: 1_000_000 });
    expect(await reading.current()).toEqual({ value: 7, at: 1_000_000 });
    expect(source.read).toHaveBeenCalledTimes(1);

    clock += 1;
    const second = reading.current();
    source.answer(8, clock);
    expect((await second)?.value).toBe(8);
    expect(source.read).toHaveBeenCalledTimes(2);
  });

  it('shares one read between the scrapes that arrive while it is in flight', async () => {
    const source = scriptedRead<number>();
    const reading = cachedReading(source.read, { ttlMs: TTL_MS, timeoutMs: 1000, now });
    const scrapes = [reading.current(), reading.current(), reading.current()];
    source.answer(3, clock);
    expect((await Promise.all(scrapes)).map((r) => r?.value)).toEqual([3, 3, 3]);
    expect(source.read).toHaveBeenCalledTimes(1);
  });

  it('keeps the last good value through failures, says so once, and once when it recovers', async () => {
    const source = scriptedRead<number>();
    const onFailing = jest.fn();
    const onRecovered = jest.fn();
    const reading = cachedReading(source.read, {
      ttlMs: TTL_MS,
      timeoutMs: 1000,
      now,
      onFailing,
      onRecovered,
    });
    const read = async (settle: () => void) => {
      clock += TTL_MS;
      const scrape = reading.current();
      settle();
      return scrape;
    };

    expect((await read(() => source.answer(5, clock)))?.value).toBe(5);
    const goodAt = clock;
    expect(await read(() => source.fail('AccessDenied'))).toEqual({ value: 5, at: goodAt });
    expect(await read(() => source.fail('AccessDenied'))).toEqual({ value: 5, at: goodAt });
    expect(onFailing).toHaveBeenCalledTimes(1);
    expect((onFailing.mock.calls[0]![0] as Error).message).toBe('AccessDenied');
    expect(onRecovered).not.toHaveBeenCalled();

    expect((await read(() => source.answer(6, clock)))?.value).toBe(6);
    expect(onRecovered).toHaveBeenCalledTimes(1);
    // A failed read waited its TTL like a good one: one read per scrape here, no retries.
    expect(source.read).toHaveBeenCalledTimes(4);
  });

  it('gives up on a read at its timeout, and a read that never answers blocks no later one', async () => {
    const source = scriptedRead<number>();
    const onFailing = jest.fn();
    const reading = cachedReading(source.read, { ttlMs: TTL_MS, timeoutMs: 50, now, onFailing });

    const started = Date.now();
    expect(await reading.current()).toBeNull(); // nothing read yet: no value
    expect(Date.now() - started).toBeLessThan(1000);
    expect((onFailing.mock.calls[0]![0] as Error).message).toBe('no answer within 50 ms');

    clock += TTL_MS;
    const next = reading.current();
    expect(source.read).toHaveBeenCalledTimes(2); // the first is still hanging
    source.answer(1, 0); // the hung one, too late: dropped
    source.answer(2, clock);
    expect((await next)?.value).toBe(2);
    expect(await reading.current()).toEqual({ value: 2, at: clock });
  });

  it('never goes back to an older reading (one shared by a replica that read earlier)', async () => {
    const source = scriptedRead<number>();
    const reading = cachedReading(source.read, { ttlMs: TTL_MS, timeoutMs: 1000, now });
    const first = reading.current();
    source.answer(10, clock);
    await first;
    clock += TTL_MS;
    const second = reading.current();
    source.answer(9, clock - 2 * TTL_MS);
    expect(await second).toEqual({ value: 10, at: 1_000_000 });
  });

  it('turns a read that throws at once into a failed read, not a rejected scrape', async () => {
    const reading = cachedReading<number>(
      () => {
        throw new Error('not configured');
      },
      { ttlMs: TTL_MS, timeoutMs: 1000, now },
    );
    await expect(reading.current()).resolves.toBeNull();
  });
});
