/**
 * The first mailbox of an address header (RFC 5322 §3.4), read the lenient way mail readers
 * do: `Name <addr>`, `"Quoted, Name" <addr>`, `=?UTF-8?B?…?= <addr>`, `addr (Name)`, a bare
 * `addr`, or the first member of a group (`Team: a@x, b@y;`).
 */
import { decodeEncodedWords } from './encodedWords';

export interface Mailbox {
  /** The display name, encoded words decoded and whitespace collapsed; null when there is none. */
  readonly name: string | null;
  /** The address as written (not normalised); null when there is none. */
  readonly address: string | null;
}

/** `value` is the header's text after the colon (folds may remain). */
export function firstMailbox(value: string): Mailbox {
  let phrase = '';
  let comment = '';
  let address: string | null = null;
  let i = 0;
  scan: while (i < value.length) {
    const char = value[i]!;
    switch (char) {
      case '"': {
        const end = quotedStringEnd(value, i);
        phrase += value.slice(i + 1, end).replace(/\\(.)/g, '$1');
        i = end + 1;
        break;
      }
      case '(': {
        const end = commentEnd(value, i);
        if (comment === '') comment = value.slice(i + 1, end).replace(/\\(.)/g, '$1');
        i = end + 1;
        break;
      }
      case '<': {
        const end = value.indexOf('>', i);
        address = value.slice(i + 1, end === -1 ? value.length : end).trim();
        i = end === -1 ? value.length : end + 1;
        break;
      }
      case ',':
        // The end of the first mailbox; an empty one (`, a@x`) is skipped.
        if (address !== null || phrase.trim() !== '') break scan;
        i++;
        break;
      case ':':
        // A group's name: its first member is the mailbox.
        if (address === null) {
          phrase = '';
          comment = '';
        }
        i++;
        break;
      case ';':
        if (address !== null || phrase.trim() !== '') break scan;
        i++;
        break;
      default:
        phrase += char;
        i++;
    }
  }
  const text = (s: string): string | null => {
    const cleaned = decodeEncodedWords(s).replace(/\s+/g, ' ').trim();
    return cleaned === '' ? null : cleaned;
  };
  if (address !== null) {
    return { name: text(phrase) ?? text(comment), address: address === '' ? null : address };
  }
  // No angle brackets: the phrase is a bare address, and a comment, if any, names it.
  const bare = phrase.replace(/\s+/g, '');
  return bare.includes('@')
    ? { name: text(comment), address: bare }
    : { name: text(phrase) ?? text(comment), address: null };
}

function quotedStringEnd(value: string, open: number): number {
  for (let i = open + 1; i < value.length; i++) {
    if (value[i] === '\\') i++;
    else if (value[i] === '"') return i;
  }
  return value.length;
}

function commentEnd(value: string, open: number): number {
  let depth = 0;
  for (let i = open; i < value.length; i++) {
    if (value[i] === '\\') i++;
    else if (value[i] === '(') depth++;
    else if (value[i] === ')' && --depth === 0) return i;
  }
  return value.length;
}
