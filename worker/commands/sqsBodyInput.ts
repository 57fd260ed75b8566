import { readFile } from 'node:fs/promises';
import { EXIT, type ExitCode, type Io } from '../io';

/**
 * One SQS message body from a file, or from standard input for `-` or no file. A failure is
 * one line on stderr and `EXIT.noInput`. A byte-order mark (some editors save one) is dropped.
 */
export async function readSqsBody(
  command: string,
  file: string | undefined,
  io: Io,
): Promise<string | ExitCode> {
  const fromStdin = file === undefined || file === '-';
  try {
    if (fromStdin && io.stdinIsTTY) {
      io.stderr.write(
        `ses-worker ${command}: reading an SQS message body from standard input (end it with Ctrl-D)\n`,
      );
    }
    const body = fromStdin ? await io.readStdin() : await readFile(file, 'utf8');
    return body.startsWith('\uFEFF') ? body.slice(1) : body;
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    io.stderr.write(
      `ses-worker ${command}: cannot read ${fromStdin ? 'standard input' : file}: ${why}\n`,
    );
    return EXIT.noInput;
  }
}
