/**
 * The header rewrite of a forwarded message, decided here and applied by the MIME adapter
 * (adapters/mail/rewrite.ts) to the top-level header block only; the body is never touched.
 *
 * Forwarding is sending on someone else's behalf, so the rewritten message must pass the
 * receiver's SPF, DKIM and DMARC checks as mail from `FORWARD_FROM`:
 * - `From` becomes `"<original name> via <recipient>" <FORWARD_FROM>`; the original `From` goes
 *   to `Reply-To` (unless the message has one) and to `X-Original-From`, so replies reach the
 *   sender.
 * - `Return-Path`, `Sender` and the signatures the new `From` breaks (DKIM, DomainKeys, ARC,
 *   SES's own receipt signature) are removed: a broken signature counts against the message.
 * - `Message-ID`, `Subject` (unless tagged), the trace headers and everything else are kept.
 * - `X-SES-Worker-Forwarded`, `X-Forwarded-For` and `X-Original-To` are added on top.
 *
 * Header fields are octet strings (see octets.ts): a kept field leaves byte for byte as it came.
 */
import { normalizeEmailAddress, type EmailAddress } from '../address';
import { encodePhrase } from './encodedWords';
import { firstMailbox } from './mailbox';
import { octetsToText, utf8Octets } from './octets';

/** One header field as mailsplit holds it. */
export interface HeaderField {
  /** The field name, lower-cased. */
  readonly key: string;
  /** The whole field, `Name: value`, folds kept, without the final line break. */
  readonly line: string;
}

/** Marks mail this forwarder sent, naming `FORWARD_FROM`: such mail is never forwarded again. */
export const FORWARDED_HEADER = 'X-SES-Worker-Forwarded';

/** Removed: they name the original sender's agent, or are signatures the new From breaks. */
export const REMOVED_HEADERS: ReadonlySet<string> = new Set([
  'return-path',
  'sender',
  'dkim-signature',
  'domainkey-signature',
  'arc-seal',
  'arc-message-signature',
  'arc-authentication-results',
  'x-ses-dkim-signature',
]);

export interface RewriteContext {
  readonly forwardFrom: EmailAddress;
  readonly target: EmailAddress;
  /** The envelope recipients whose rules named the target. */
  readonly recipients: readonly EmailAddress[];
  readonly sesMessageId: string;
  /** Envelope MAIL FROM: names the sender when the message has no From. */
  readonly mailFrom: string | null;
  /** Put before the subject, each in brackets (`[SPAM]`). */
  readonly subjectTags: readonly string[];
}

/** Why a message is not forwarded again: it carries our header, or it is From FORWARD_FROM. */
export type LoopReason = 'forwardedHeader' | 'fromForwarder';

export type HeaderRewrite =
  | { readonly kind: 'loop'; readonly reason: LoopReason }
  | { readonly kind: 'rewritten'; readonly fields: readonly HeaderField[] };

/** Longest display name written, in characters; a longer original name is cut. */
const MAX_SENDER_NAME = 120;
/** RFC 5322 §2.1.1: lines SHOULD be no longer than 78 characters. */
const FOLD_AT = 78;

export function rewriteHeaders(fields: readonly HeaderField[], ctx: RewriteContext): HeaderRewrite {
  if (fields.some((f) => f.key === FORWARDED_HEADER.toLowerCase() && forwardedBy(f, ctx))) {
    return { kind: 'loop', reason: 'forwardedHeader' };
  }
  const from = fields.find((f) => f.key === 'from');
  const fromValue = from === undefined ? null : fieldValue(from);
  const sender = fromValue === null ? null : firstMailbox(unfold(octetsToText(fromValue)));
  const senderAddress = sender?.address ? normalizeEmailAddress(sender.address) : null;
  if (senderAddress !== null && senderAddress === ctx.forwardFrom) {
    return { kind: 'loop', reason: 'fromForwarder' };
  }

  // The original From, as written, when it names someone to reply to.
  const originalFrom = sender?.address ? fromValue : null;
  const via = ctx.recipients[0] ?? ctx.target;
  const senderName = cut(
    sender?.name ?? sender?.address ?? ctx.mailFrom ?? 'unknown sender',
    MAX_SENDER_NAME,
  );
  const newFrom = field('From', [
    ...encodePhrase(`${senderName} via ${via}`),
    `<${utf8Octets(ctx.forwardFrom)}>`,
  ]);
  const replyTo: HeaderField[] = fields.some((f) => f.key === 'reply-to')
    ? []
    : originalFrom !== null
      ? [rawField('Reply-To', originalFrom)]
      : ctx.mailFrom !== null
        ? [field('Reply-To', [`<${utf8Octets(ctx.mailFrom)}>`])]
        : [];
  const tag = ctx.subjectTags.map((t) => `[${t}]`).join(' ');
  const hasSubject = fields.some((f) => f.key === 'subject');

  const added: HeaderField[] = [
    field(FORWARDED_HEADER, [`by=${utf8Octets(ctx.forwardFrom)};`, `id=${safe(ctx.sesMessageId)}`]),
    field('X-Forwarded-For', [...commaSeparated(ctx.recipients), utf8Octets(ctx.target)]),
    field('X-Original-To', commaSeparated(ctx.recipients)),
    ...(originalFrom === null ? [] : [rawField('X-Original-From', originalFrom)]),
  ];
  const out: HeaderField[] = [...added];
  if (from === undefined) {
    out.push(newFrom, ...replyTo);
    if (tag !== '' && !hasSubject) out.push(field('Subject', [tag]));
  }
  let fromSeen = false;
  let subjectSeen = false;
  for (const f of fields) {
    if (REMOVED_HEADERS.has(f.key)) continue;
    if (f.key === 'from') {
      // A second From (malformed mail) would contradict the new one.
      if (!fromSeen) out.push(newFrom, ...replyTo);
      fromSeen = true;
    } else if (f.key === 'subject' && tag !== '' && !subjectSeen) {
      subjectSeen = true;
      const rest = fieldValue(f).replace(/^\s+/, '');
      out.push({
        key: 'subject',
        line: rest === '' ? `Subject: ${tag}` : `Subject: ${tag} ${rest}`,
      });
    } else {
      out.push(f);
    }
  }
  if (from !== undefined && tag !== '' && !hasSubject) out.push(field('Subject', [tag]));
  return { kind: 'rewritten', fields: out };
}

/** The field's value: everything after the first colon, folds kept. */
export const fieldValue = (f: HeaderField): string => f.line.slice(f.line.indexOf(':') + 1);

const unfold = (text: string): string => text.replace(/\r?\n(?=[ \t])/g, '');

function forwardedBy(f: HeaderField, ctx: RewriteContext): boolean {
  const by = /(?:^|[\s;])by=([^;\s]+)/i.exec(unfold(octetsToText(fieldValue(f))))?.[1];
  return by !== undefined && normalizeEmailAddress(by) === ctx.forwardFrom;
}

/** A field from tokens, folded between tokens to keep lines near 78 characters. */
function field(name: string, tokens: readonly string[]): HeaderField {
  let line = `${name}:`;
  let lineLength = line.length;
  for (const token of tokens) {
    if (lineLength > name.length + 1 && lineLength + 1 + token.length > FOLD_AT) {
      line += `\r\n ${token}`;
      lineLength = 1 + token.length;
    } else {
      line += ` ${token}`;
      lineLength += 1 + token.length;
    }
  }
  return { key: name.toLowerCase(), line };
}

/** A field carrying another field's value exactly as it was (its folds, its bytes). */
const rawField = (name: string, value: string): HeaderField => ({
  key: name.toLowerCase(),
  line: `${name}:${/^[ \t]/.test(value) ? '' : ' '}${value}`,
});

const commaSeparated = (addresses: readonly string[]): string[] =>
  addresses.map((a, i) => (i < addresses.length - 1 ? `${utf8Octets(a)},` : utf8Octets(a)));

// eslint-disable-next-line no-control-regex -- control characters are what it removes
const CONTROL = /[\x00-\x1f\x7f]+/g;

/** No line breaks or other controls may reach a header from outside text. */
const safe = (text: string): string => text.replace(CONTROL, ' ').trim();

function cut(text: string, max: number): string {
  const chars = [...safe(text)];
  return chars.length <= max ? chars.join('') : `${chars.slice(0, max - 1).join('')}…`;
}
