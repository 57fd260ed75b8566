/** Structured JSON logs on stdout (pino): one line per event, machine-readable, cheap. */
import pino, { type Logger } from 'pino';

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
    },
    destination as pino.DestinationStream,
  );
}
