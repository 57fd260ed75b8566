/**
 * The polling gate's log lines: a hold that ends because jobs can be added again says polling
 * resumed; one that ends because the worker is stopping says that instead (the job store may
 * still be down). Fake timers: the gate looks again every 100 ms.
 */
import { pino } from 'pino';
import { makeEnqueueGate } from '../../../worker/enqueueGate';

function capturingLog() {
  const lines: string[] = [];
  const log = pino(
    { level: 'info' },
    { write: (line: string) => lines.push((JSON.parse(line) as { msg: string }).msg) },
  );
  return { log, lines };
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

it('says polling resumed when the store is connected again', async () => {
  const { log, lines } = capturingLog();
  let connected = false;
  const gate = makeEnqueueGate(
    () => connected,
    () => false,
    log,
  );
  const held = gate.beforeReceive();
  await jest.advanceTimersByTimeAsync(1_500);
  connected = true;
  await jest.advanceTimersByTimeAsync(200);
  await held;
  expect(lines).toEqual([
    'holding SQS polling until jobs can be added',
    'jobs can be added again; polling resumed',
  ]);
});

it('says it is stopping, not that polling resumed, when the worker stops during a hold', async () => {
  const { log, lines } = capturingLog();
  let stopping = false;
  const gate = makeEnqueueGate(
    () => false,
    () => stopping,
    log,
  );
  const held = gate.beforeReceive();
  await jest.advanceTimersByTimeAsync(1_500);
  stopping = true;
  await jest.advanceTimersByTimeAsync(200);
  await held;
  expect(lines).toEqual([
    'holding SQS polling until jobs can be added',
    'stopping while SQS polling was held',
  ]);
});
