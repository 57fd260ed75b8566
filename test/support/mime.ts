/** Reading messages in tests: the header block apart from the body, and header values. */
import { octetsToText } from '../../domain/forwarding/octets';

/** Splits a message at the end of its top-level header block (CRLF or LF). */
export function splitMessage(message: Buffer): { head: string; body: Buffer } {
  const crlf = message.indexOf('\r\n\r\n');
  const lf = message.indexOf('\n\n');
  const [at, length] = crlf !== -1 && (lf === -1 || crlf < lf) ? [crlf, 4] : [lf, 2];
  if (at === -1) return { head: message.toString('latin1'), body: Buffer.alloc(0) };
  return { head: message.subarray(0, at).toString('latin1'), body: message.subarray(at + length) };
}

/** A header block's fields: [name (lower case), value unfolded, as text]. */
export const headerFields = (head: string): [string, string][] =>
  head.split(/\r?\n(?![ \t])/).map((field) => [
    field.slice(0, field.indexOf(':')).toLowerCase(),
    octetsToText(field.slice(field.indexOf(':') + 1))
      .replace(/\r?\n[ \t]/g, ' ')
      .trim(),
  ]);

/** The values of every field named `name` (lower case). */
export const headerValues = (head: string, name: string): string[] =>
  headerFields(head)
    .filter(([key]) => key === name)
    .map(([, value]) => value);
