/**
 * Structured JSON logs on stdout (pino): one line per event, machine-readable, cheap.
 *
 * What is never logged (docs/operations.md, "Logging"): an email address, a subject or message content, or
 * a credential from a URL. Two rules here make that hold for every log site: an `err` field is
 * reduced to its message and code, redacted (`loggableError`: ioredis errors carry the failed
 * command's arguments, which for BullMQ are whole jobs), and every URL in the message or in a
 * top-level field has its credentials masked. Job ids are logged through `redactJobId`.
 */
import pino, { type Logger } from 'pino';
import { loggableError, maskUrlCredentials } from '../domain/redact';

export function makeLogger(
  level: string,
  destination: NodeJS.WritableStream = process.stdout,
): Logger {
  return pino(
    {
      level,
      base: { service: 'ses-worker', pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: loggableError, error: loggableError },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map(maskedArgument) as Parameters<typeof method>);
        },
      },
    },
    destination as pino.DestinationStream,
  );
}

function maskedArgument(argument: unknown): unknown {
  if (typeof argument === 'string') return maskUrlCredentials(argument);
  if (typeof argument !== 'object' || argument === null || argument instanceof Error)
    return argument;
  let masked: Record<string, unknown> | null = null;
  for (const [key, value] of Object.entries(argument)) {
    if (typeof value !== 'string' || !value.includes('://')) continue;
    masked ??= { ...argument };
    masked[key] = maskUrlCredentials(value);
  }
  return masked ?? argument;
}
