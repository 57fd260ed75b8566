import { maskUrlCredentials } from '../domain/redact';

/** Exit codes from sysexits(3), so scripts can tell bad input from a broken worker. */
export const EXIT = {
  ok: 0,
  usage: 64,
  dataError: 65,
  noInput: 66,
  /** A service the command needs (Redis) is not reachable. */
  unavailable: 69,
  software: 70,
  /** Stopped before its work was done (shutdown deadline, second signal). */
  interrupted: 75,
  /** A configuration variable is missing or bad. */
  config: 78,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The process's streams, passed in so commands can be run in tests without spawning. */
export interface Io {
  readonly stdout: { write(chunk: string): unknown };
  readonly stderr: { write(chunk: string): unknown };
  readonly stdinIsTTY: boolean;
  readStdin(): Promise<string>;
}

export const processIo: Io = {
  stdout: process.stdout,
  // Messages on stderr may quote a configured URL: its credentials never reach the terminal.
  stderr: { write: (chunk: string) => process.stderr.write(maskUrlCredentials(chunk)) },
  stdinIsTTY: process.stdin.isTTY === true,
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};

/**
 * Exits once stdout and stderr have handed the OS everything written to them. `process.exit`
 * alone drops what a pipe has not taken yet: a piped `suppression export` ended short.
 */
export function exitWhenFlushed(code: number): void {
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}
