/**
 * The built worker (`dist/worker/cli.js run`) as a child process: its JSON log lines collected,
 * awaitable, and signals to send it. `npm test` builds before jest runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { eventually } from './await';

/** dist/worker/cli.js, from test/support or from its compiled copy in dist/test/support. */
export const CLI =
  [
    resolve(__dirname, '..', '..', 'dist', 'worker', 'cli.js'),
    resolve(__dirname, '..', '..', 'worker', 'cli.js'),
  ].find(existsSync) ?? resolve(__dirname, '..', '..', 'dist', 'worker', 'cli.js');

export interface LogLine {
  readonly level: string;
  readonly msg: string;
  readonly [field: string]: unknown;
}

export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly logs: LogLine[];
  /** Lines on stdout that are not JSON logs: what `run --embedded` prints for people. */
  readonly text: string[];
  /** Resolves with the exit code (or the signal's name) when the process ends. */
  readonly exited: Promise<number | NodeJS.Signals>;
  waitForLog(
    predicate: (line: LogLine) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<LogLine>;
  waitForText(predicate: (line: string) => boolean, what: string): Promise<string>;
  count(msg: string): number;
  /** The HTTP port it bound (HTTP_PORT=0), read off its start-up line. */
  httpPort(): Promise<number>;
}

export function spawnWorker(
  env: Record<string, string>,
  args: readonly string[] = ['run'],
): WorkerProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: {
      PATH: process.env.PATH ?? '',
      HTTP_PORT: '0',
      LOG_LEVEL: 'debug',
      SQS_WAIT_TIME_SECONDS: '1',
      SNS_VERIFY_SIGNATURES: 'false',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const text: string[] = [];
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('{')) logs.push(JSON.parse(line) as LogLine);
      else text.push(line);
    }
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<number | NodeJS.Signals>((done) =>
    child.on('exit', (code, signal) => done(code ?? signal ?? -1)),
  );

  const waitFor = <L>(
    lines: L[],
    predicate: (line: L) => boolean,
    what: string,
    timeoutMs = 20_000,
  ) =>
    eventually(
      () => {
        if (child.exitCode !== null)
          throw new Error(`worker exited ${child.exitCode}: ${stderr.slice(-2000)}`);
        return Promise.resolve(lines.find(predicate));
      },
      what,
      timeoutMs,
    );
  const waitForLog = (predicate: (line: LogLine) => boolean, what: string, timeoutMs?: number) =>
    waitFor(logs, predicate, what, timeoutMs);
  return {
    child,
    logs,
    text,
    exited,
    waitForLog,
    waitForText: (predicate, what) => waitFor(text, predicate, what),
    count: (msg) => logs.filter((l) => l.msg === msg).length,
    httpPort: async () =>
      (await waitForLog((l) => l.msg === 'ses-worker running', 'the worker to start'))
        .port as number,
  };
}

/**
 * Ends a test's worker as an operator would: SIGTERM, so it cleans up after itself (`run
 * --embedded` removes its sample file), then SIGKILL if it has not exited within `graceMs`.
 */
export async function stopWorker(worker: WorkerProcess, graceMs = 10_000): Promise<void> {
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  worker.child.kill('SIGTERM');
  const timer = setTimeout(() => worker.child.kill('SIGKILL'), graceMs);
  await worker.exited;
  clearTimeout(timer);
}

/** Reads a counter's total off a worker's /metrics page. */
export async function scrapeCounter(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}
