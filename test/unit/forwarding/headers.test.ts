/** The header rewrite decisions, on header fields as mailsplit hands them over. */
import type { EmailAddress } from '../../../domain/address';
import { decodeEncodedWords } from '../../../domain/forwarding/encodedWords';
import {
  REMOVED_HEADERS,
  rewriteHeaders,
  type HeaderField,
  type RewriteContext,
} from '../../../domain/forwarding/headers';
import { octetsToText, utf8Octets } from '../../../domain/forwarding/octets';

/** "Name: value" lines (CRLF; a line starting with WSP continues the previous field) → fields. */
function fields(text: string): HeaderField[] {
  const out: HeaderField[] = [];
  for (const line of utf8Octets(text).split('\r\n')) {
    if (/^[ \t]/.test(line) && out.length > 0) {
      const last = out.pop()!;
      out.push({ key: last.key, line: `${last.line}\r\n${line}` });
    } else {
      out.push({ key: line.slice(0, line.indexOf(':')).trim().toLowerCase(), line });
    }
  }
  return out;
}

const ctx = (changes: Partial<RewriteContext> = {}): RewriteContext => ({
  forwardFrom: 'forwarder@example.com' as EmailAddress,
  target: 'ops@example.net' as EmailAddress,
  recipients: ['info@example.com' as EmailAddress],
  sesMessageId: 'o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1',
  mailFrom: 'alice@example.org',
  subjectTags: [],
  ...changes,
});

function rewritten(text: string, changes: Partial<RewriteContext> = {}): readonly HeaderField[] {
  const result = rewriteHeaders(fields(text), ctx(changes));
  if (result.kind !== 'rewritten') throw new Error(`expected a rewrite, got ${result.reason}`);
  return result.fields;
}

const lines = (out: readonly HeaderField[]) => out.map((f) => f.line);
const get = (out: readonly HeaderField[], key: string) =>
  out.filter((f) => f.key === key).map((f) => f.line);
/** A field's value as a reader shows it: unfolded, encoded words decoded, quotes removed. */
const shown = (line: string) =>
  decodeEncodedWords(octetsToText(line.slice(line.indexOf(':') + 1)).replace(/\r\n[ \t]/g, ' '))
    .replace(/"/g, '')
    .trim();

const SAMPLE = [
  'Return-Path: <alice@example.org>',
  'Received: from mail.example.org by inbound-smtp.us-east-1.amazonaws.com',
  'DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s1;',
  '\th=From:To:Subject; b=abc',
  'From: Alice Example <alice@example.org>',
  'To: Example Info <info@example.com>',
  'Subject: Quarterly report',
  'Message-ID: <CAF1@mail.example.org>',
  'MIME-Version: 1.0',
].join('\r\n');

describe('rewriteHeaders', () => {
  it('rewrites From, adds Reply-To and the forwarding headers, keeps the rest in order', () => {
    expect(lines(rewritten(SAMPLE))).toEqual([
      'X-SES-Worker-Forwarded: by=forwarder@example.com;\r\n id=o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1',
      'X-Forwarded-For: info@example.com ops@example.net',
      'X-Original-To: info@example.com',
      'X-Original-From: Alice Example <alice@example.org>',
      'Received: from mail.example.org by inbound-smtp.us-east-1.amazonaws.com',
      'From: "Alice Example via info@example.com" <forwarder@example.com>',
      'Reply-To: Alice Example <alice@example.org>',
      'To: Example Info <info@example.com>',
      'Subject: Quarterly report',
      'Message-ID: <CAF1@mail.example.org>',
      'MIME-Version: 1.0',
    ]);
  });

  it('removes Return-Path, Sender and every signature the new From breaks', () => {
    const all = [...REMOVED_HEADERS].map((name) => `${name}: x`).join('\r\n');
    const out = rewritten(`${all}\r\nFrom: a@example.org\r\nX-Kept: yes`);
    expect(out.map((f) => f.key).filter((k) => REMOVED_HEADERS.has(k))).toEqual([]);
    expect(get(out, 'x-kept')).toEqual(['X-Kept: yes']);
    expect([...REMOVED_HEADERS]).toEqual(
      expect.arrayContaining(['return-path', 'sender', 'dkim-signature', 'arc-seal']),
    );
  });

  it('keeps an existing Reply-To (the sender chose where replies go)', () => {
    const out = rewritten(`${SAMPLE}\r\nReply-To: Team <team@example.org>`);
    expect(get(out, 'reply-to')).toEqual(['Reply-To: Team <team@example.org>']);
  });

  it('copies a folded, encoded From into Reply-To byte for byte', () => {
    const from = 'From: =?ISO-8859-1?Q?Marie_Lef=E8vre?=\r\n <marie@example.org>';
    const out = rewritten(from);
    expect(get(out, 'reply-to')).toEqual([
      'Reply-To: =?ISO-8859-1?Q?Marie_Lef=E8vre?=\r\n <marie@example.org>',
    ]);
    expect(shown(get(out, 'from')[0]!)).toBe(
      'Marie Lefèvre via info@example.com <forwarder@example.com>',
    );
  });

  it('encodes a non-ASCII display name as UTF-8 encoded words, lines folded at 78', () => {
    const out = rewritten('From: "Jürgen Müller" <j@example.org>');
    const from = get(out, 'from')[0]!;
    expect(from).toMatch(/^From: =\?UTF-8\?B\?/);
    for (const line of from.split('\r\n')) expect(line.length).toBeLessThanOrEqual(78);
    expect(shown(from)).toBe('Jürgen Müller via info@example.com <forwarder@example.com>');
  });

  it('a From with only an address shows the address as the name', () => {
    const out = rewritten('From: alice@example.org');
    expect(shown(get(out, 'from')[0]!)).toBe(
      'alice@example.org via info@example.com <forwarder@example.com>',
    );
  });

  it('cuts a huge display name, and keeps line breaks out of it', () => {
    const name = `Evil\r\nBcc: victim@example.net ${'x'.repeat(5000)}`;
    const out = rewritten(
      `From: =?UTF-8?B?${Buffer.from(name).toString('base64')}?= <e@example.org>`,
    );
    const from = get(out, 'from')[0]!;
    const display = shown(from);
    expect(display).toMatch(
      /^Evil Bcc: victim@example.net x+… via info@example.com <forwarder@example.com>$/,
    );
    expect([...display.split(' via ')[0]!].length).toBe(120);
    expect(decodeEncodedWords(from)).not.toMatch(/\r\nBcc/);
  });

  it('without a From: one is added, named after the envelope sender, who gets Reply-To', () => {
    const out = rewritten('To: scans@example.com\r\nSubject: Scan');
    expect(shown(get(out, 'from')[0]!)).toBe(
      'alice@example.org via info@example.com <forwarder@example.com>',
    );
    expect(get(out, 'reply-to')).toEqual(['Reply-To: <alice@example.org>']);
    expect(get(out, 'x-original-from')).toEqual([]);
  });

  it('without a From or an envelope sender (a bounce): "unknown sender", no Reply-To', () => {
    const out = rewritten('Subject: Undeliverable', { mailFrom: null });
    expect(shown(get(out, 'from')[0]!)).toBe(
      'unknown sender via info@example.com <forwarder@example.com>',
    );
    expect(get(out, 'reply-to')).toEqual([]);
  });

  it('a second From is dropped: the message has exactly one', () => {
    const out = rewritten('From: a@example.org\r\nFrom: b@example.org');
    expect(get(out, 'from')).toHaveLength(1);
  });

  it('tags the subject, keeping the original (encoded, folded) text as it was', () => {
    expect(get(rewritten(SAMPLE, { subjectTags: ['SPAM'] }), 'subject')).toEqual([
      'Subject: [SPAM] Quarterly report',
    ]);
    const encoded = 'From: a@example.org\r\nSubject:\r\n =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n more';
    expect(get(rewritten(encoded, { subjectTags: ['VIRUS', 'SPAM'] }), 'subject')).toEqual([
      'Subject: [VIRUS] [SPAM] =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n more',
    ]);
    expect(get(rewritten('From: a@example.org', { subjectTags: ['SPAM'] }), 'subject')).toEqual([
      'Subject: [SPAM]',
    ]);
    expect(get(rewritten(SAMPLE), 'subject')).toEqual(['Subject: Quarterly report']);
  });

  it('lists every recipient that led to the target', () => {
    const out = rewritten(SAMPLE, {
      recipients: ['info@example.com', 'sales@example.com'] as EmailAddress[],
    });
    expect(get(out, 'x-original-to')).toEqual([
      'X-Original-To: info@example.com, sales@example.com',
    ]);
    expect(get(out, 'x-forwarded-for')).toEqual([
      'X-Forwarded-For: info@example.com, sales@example.com ops@example.net',
    ]);
  });

  it('writes internationalised addresses as UTF-8 bytes', () => {
    const out = rewritten(SAMPLE, { target: 'jürgen@example.net' as EmailAddress });
    expect(get(out, 'x-forwarded-for')).toEqual([
      `X-Forwarded-For: info@example.com ${utf8Octets('jürgen@example.net')}`,
    ]);
  });

  it('keeps line breaks out of the SES message id', () => {
    const out = rewritten(SAMPLE, { sesMessageId: 'abc\r\nBcc: x@example.net' });
    expect(get(out, 'x-ses-worker-forwarded')[0]).toBe(
      'X-SES-Worker-Forwarded: by=forwarder@example.com; id=abc Bcc: x@example.net',
    );
  });
});

describe('loop guard', () => {
  it('mail carrying our own forwarding header is not forwarded again', () => {
    const header = 'X-SES-Worker-Forwarded: by=Forwarder@Example.com;\r\n id=abc';
    expect(rewriteHeaders(fields(`${header}\r\n${SAMPLE}`), ctx())).toEqual({
      kind: 'loop',
      reason: 'forwardedHeader',
    });
  });

  it('another forwarder’s header is no loop: it is kept, and ours is added', () => {
    const header = 'X-SES-Worker-Forwarded: by=forwarder@example.net; id=abc';
    const out = rewritten(`${header}\r\n${SAMPLE}`);
    expect(get(out, 'x-ses-worker-forwarded')).toHaveLength(2);
    expect(get(out, 'x-ses-worker-forwarded')).toContain(header);
  });

  it('mail From FORWARD_FROM is not forwarded', () => {
    expect(
      rewriteHeaders(fields('From: "Forwarder" <FORWARDER@example.com>\r\nSubject: x'), ctx()),
    ).toEqual({ kind: 'loop', reason: 'fromForwarder' });
  });
});
