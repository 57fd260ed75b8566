import { decodeSqsBody } from '../../domain/decode';
import { EXIT, type ExitCode, type Io } from '../io';
import { readSqsBody } from './sqsBodyInput';

/**
 * `ses-worker decode [FILE|-]`: one SQS message body in, the DomainEvent out as one JSON line
 * (dates as ISO strings). A body that does not decode gets one line on stderr and exit 65.
 */
export async function decodeCommand(file: string | undefined, io: Io): Promise<ExitCode> {
  const body = await readSqsBody('decode', file, io);
  if (typeof body !== 'string') return body;
  const result = decodeSqsBody(body);
  if (result._tag === 'Left') {
    io.stderr.write(`ses-worker decode: ${result.left.reason}: ${result.left.message}\n`);
    return EXIT.dataError;
  }
  io.stdout.write(`${JSON.stringify(result.right)}\n`);
  return EXIT.ok;
}
