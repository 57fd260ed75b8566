import { readFile } from 'node:fs/promises';
import { decodeSqsBody } from '../../domain/decode';
import { EXIT, type ExitCode, type Io } from '../io';

/**
 * `ses-worker decode [FILE|-]`: one SQS message body in, the DomainEvent out as one JSON line
 * (dates as ISO strings). A body that does not decode gets one line on stderr and exit 65.
 */
export async function decodeCommand(file: string | undefined, io: Io): Promise<ExitCode> {
  const fromStdin = file === undefined || file === '-';
  let body: string;
  try {
    if (fromStdin && io.stdinIsTTY) {
      io.stderr.write(
        'ses-worker decode: reading an SQS message body from standard input (end it with Ctrl-D)\n',
      );
    }
    body = fromStdin ? await io.readStdin() : await readFile(file, 'utf8');
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    io.stderr.write(
      `ses-worker decode: cannot read ${fromStdin ? 'standard input' : file}: ${why}\n`,
    );
    return EXIT.noInput;
  }
  // Editors on some systems save a byte-order mark; it is not part of the body.
  const result = decodeSqsBody(body.startsWith('\uFEFF') ? body.slice(1) : body);
  if (result._tag === 'Left') {
    io.stderr.write(`ses-worker decode: ${result.left.reason}: ${result.left.message}\n`);
    return EXIT.dataError;
  }
  io.stdout.write(`${JSON.stringify(result.right)}\n`);
  return EXIT.ok;
}
