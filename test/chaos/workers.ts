/**
 * The chaos suite's worker processes: the built CLI (`dist/worker/cli.js run`), one per slot,
 * each replaced by a fresh process when the suite kills it. Any other exit is a crash, and is
 * recorded as one.
 */
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { spawnWorker, type WorkerProcess } from '../support/workerProcess';

export interface KillResult {
  /** The process had received a batch it had not finished (its log says so). */
  readonly midBatch: boolean;
  /** How long it took for a batch to arrive to be killed in the middle of. */
  readonly waitedMs: number;
  /** When the signal was sent, epoch ms. */
  readonly killedAt: number;
}

export interface WorkerPool {
  /** The processes running now, one per slot. */
  current(): readonly WorkerProcess[];
  /** Every process started, killed ones included (their logs). */
  all(): readonly WorkerProcess[];
  /** Exits the suite did not cause: `slot N (generation G): <code or signal>`. */
  readonly crashes: readonly string[];
  /**
   * SIGKILLs the slot's process the moment it logs `batch received` (within `timeoutMs`, or
   * then regardless), and waits until it is gone.
   */
  killMidBatch(slot: number, timeoutMs: number): Promise<KillResult>;
  /** Starts a new process in the slot and waits for its start-up line. */
  restart(slot: number): Promise<void>;
  /** SIGTERM to every process; their exit codes. */
  stop(): Promise<(number | NodeJS.Signals)[]>;
}

interface Slot {
  process: WorkerProcess;
  generation: number;
  /** Set before the suite ends it on purpose. */
  ending: boolean;
  closed: Promise<unknown>;
}

const BATCH_RECEIVED = '"msg":"batch received"';

export async function startWorkerPool(
  slots: number,
  env: Record<string, string>,
): Promise<WorkerPool> {
  const crashes: string[] = [];
  const running: Slot[] = [];
  const started: WorkerProcess[] = [];
  const everyChild = new Set<WorkerProcess>();
  // A suite that dies must not leave workers polling behind it.
  process.once('exit', () => {
    for (const child of everyChild) if (child.child.exitCode === null) child.child.kill('SIGKILL');
  });

  const launch = async (index: number, generation: number): Promise<void> => {
    const worker = spawnWorker(env);
    started.push(worker);
    everyChild.add(worker);
    const slot: Slot = {
      process: worker,
      generation,
      ending: false,
      // 'close' comes after the last of its output has been read: the log is then complete.
      closed: once(worker.child, 'close'),
    };
    running[index] = slot;
    void worker.exited.then((code) => {
      everyChild.delete(worker);
      if (!slot.ending) crashes.push(`slot ${index} (generation ${generation}): exited ${code}`);
    });
    await worker.httpPort();
  };

  await Promise.all(Array.from({ length: slots }, (_, i) => launch(i, 0)));

  return {
    current: () => running.map((slot) => slot.process),
    all: () => started,
    crashes,
    async killMidBatch(index, timeoutMs) {
      const slot = running[index]!;
      const { child } = slot.process;
      slot.ending = true;
      const startedAt = Date.now();
      let killedAt = startedAt;
      await new Promise<void>((done) => {
        const stdout = child.stdout as Readable;
        const kill = () => {
          clearTimeout(timer);
          stdout.off('data', watch);
          child.kill('SIGKILL');
          killedAt = Date.now();
          done();
        };
        // Killed from inside the data handler: no await between seeing the line and the signal.
        const watch = (chunk: string) => {
          if (chunk.includes(BATCH_RECEIVED)) kill();
        };
        const timer = setTimeout(kill, timeoutMs);
        stdout.on('data', watch);
      });
      await slot.closed;
      const received = slot.process.count('batch received');
      const finished = slot.process.count('batch done');
      return { midBatch: received > finished, waitedMs: killedAt - startedAt, killedAt };
    },
    async restart(index) {
      await launch(index, running[index]!.generation + 1);
    },
    async stop() {
      for (const slot of running) slot.ending = true;
      for (const slot of running) slot.process.child.kill('SIGTERM');
      return Promise.all(running.map((slot) => slot.process.exited));
    },
  };
}
