/**
 * The header rewrite applied with mailsplit to real-world messages (test/fixtures/mime): the
 * top-level header block changes as decided, and every byte after it — bodies, parts, nested
 * messages with their own headers — stays exactly as it was.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  MalformedMessageError,
  rewriteTopHeaders,
  type RewriteResult,
} from '../../../adapters/mail/rewrite';
import type { EmailAddress } from '../../../domain/address';
import { decodeEncodedWords } from '../../../domain/forwarding/encodedWords';
import { firstMailbox } from '../../../domain/forwarding/mailbox';
import {
  REMOVED_HEADERS,
  rewriteHeaders,
  type LoopReason,
  type RewriteContext,
} from '../../../domain/forwarding/headers';
import { FIXTURES_DIR } from '../../support/fixtures';
import { headerFields, headerValues, splitMessage } from '../../support/mime';

const MIME_DIR = join(FIXTURES_DIR, 'mime');
const mime = (name: string): Buffer => readFileSync(join(MIME_DIR, name));
const MIME_FIXTURES = readdirSync(MIME_DIR).filter((f) => f.endsWith('.eml'));

const ctx: RewriteContext = {
  forwardFrom: 'forwarder@example.com' as EmailAddress,
  target: 'ops@example.net' as EmailAddress,
  recipients: ['info@example.com' as EmailAddress],
  sesMessageId: 'k1u0mtns7b3hmj0cfme4vpl3ij8nbqhnt2ocm4g1',
  mailFrom: 'sender@example.org',
  subjectTags: [],
};

const forward = (raw: Uint8Array, context = ctx, maxHeadBytes = 10 * 1024 * 1024) =>
  rewriteTopHeaders<LoopReason>(
    raw,
    (fields) => {
      const decision = rewriteHeaders(fields, context);
      return decision.kind === 'loop' ? { abort: decision.reason } : { fields: decision.fields };
    },
    { maxHeadBytes },
  );

async function rewritten(raw: Uint8Array, context = ctx): Promise<Buffer> {
  const result = await forward(raw, context);
  if (result.kind !== 'rewritten') throw new Error(`aborted: ${result.reason}`);
  return result.message;
}

const split = splitMessage;
const values = headerValues;

describe('rewriteTopHeaders on real-world messages', () => {
  it.each(MIME_FIXTURES)('%s: the bytes after the header block are unchanged', async (name) => {
    const original = mime(name);
    const output = await rewritten(original);
    expect(split(output).body.equals(split(original).body)).toBe(true);
  });

  it.each(MIME_FIXTURES)('%s: the new header block is as decided', async (name) => {
    const original = split(mime(name)).head;
    const { head } = split(await rewritten(mime(name)));
    const keys = headerFields(head).map(([key]) => key);
    expect(keys.filter((key) => REMOVED_HEADERS.has(key))).toEqual([]);
    expect(values(head, 'from')).toHaveLength(1);
    expect(firstMailbox(values(head, 'from')[0]!).address).toBe('forwarder@example.com');
    expect(values(head, 'message-id')).toEqual(values(original, 'message-id'));
    expect(values(head, 'subject')).toEqual(values(original, 'subject'));
    expect(values(head, 'x-ses-worker-forwarded')).toEqual([
      `by=forwarder@example.com; id=${ctx.sesMessageId}`,
    ]);
    expect(head).not.toMatch(/(^|[^\r])\n/); // CRLF throughout, whatever the original used
    // Every field that is neither removed nor replaced is still there, in its order.
    const replaced = new Set([...REMOVED_HEADERS, 'from', 'reply-to']);
    const kept = headerFields(original).filter(([key]) => !replaced.has(key));
    expect(headerFields(head).filter(([key]) => kept.some(([k]) => k === key))).toEqual(kept);
  });

  it('an identity rewrite gives back the message byte for byte (mailsplit round trip)', async () => {
    for (const name of MIME_FIXTURES.filter((f) => !f.includes('-lf'))) {
      const original = mime(name);
      const result = await rewriteTopHeaders(original, (fields) => ({ fields }), {
        maxHeadBytes: 1 << 20,
      });
      expect(result.kind === 'rewritten' && result.message.equals(original)).toBe(true);
    }
  });

  it('multipart: From named after the sender, Reply-To is the original From', async () => {
    const { head } = split(await rewritten(mime('multipart-alternative.eml')));
    expect(values(head, 'from')).toEqual([
      '"Alice Example via info@example.com" <forwarder@example.com>',
    ]);
    expect(values(head, 'reply-to')).toEqual(['Alice Example <alice@example.org>']);
    expect(values(head, 'x-original-from')).toEqual(['Alice Example <alice@example.org>']);
  });

  it('encoded words: the display name is decoded, re-encoded, and the Reply-To kept raw', async () => {
    const { head } = split(await rewritten(mime('encoded-words-nested.eml')));
    expect(decodeEncodedWords(values(head, 'from')[0]!)).toBe(
      'Marie Lefèvre (Comptabilité) via info@example.com <forwarder@example.com>',
    );
    expect(values(head, 'reply-to')).toEqual([
      '=?ISO-8859-1?Q?Marie_Lef=E8vre?= =?ISO-8859-1?Q?_=28Comptabilit=E9=29?= <marie@example.org>',
    ]);
    for (const line of head.split('\r\n')) expect(line.length).toBeLessThanOrEqual(998);
  });

  it('nested message: its own From, Sender and DKIM-Signature are not touched', async () => {
    const { body } = split(await rewritten(mime('encoded-words-nested.eml')));
    const text = body.toString('utf8');
    expect(text).toContain('From: Billing <billing@example.net>\r\nSender: robot@example.net');
    expect(text).toContain('DKIM-Signature: v=1; a=rsa-sha256; d=example.net');
  });

  it('raw 8-bit UTF-8 headers: the name is read as UTF-8, kept fields keep their bytes', async () => {
    const original = mime('raw-8bit-headers.eml');
    const output = await rewritten(original);
    const { head } = split(output);
    expect(decodeEncodedWords(values(head, 'from')[0]!)).toBe(
      'Jürgen Müller via info@example.com <forwarder@example.com>',
    );
    const subject = 'Subject: Grüße – raw UTF-8 in the header (RFC 6532)\r\n';
    expect(output.includes(Buffer.from(subject, 'utf8'))).toBe(true);
    expect(values(head, 'reply-to')).toEqual(['"Jürgen Müller" <j.mueller@example.org>']);
  });

  it('folded headers: a folded From is understood; Sender and Return-Path go', async () => {
    const { head } = split(await rewritten(mime('folded-headers-lf.eml')));
    expect(values(head, 'from')).toEqual([
      '"Example Newsletter, Weekly Edition via info@example.com" <forwarder@example.com>',
    ]);
    // The message's own Reply-To stays; the original From is still on record.
    expect(values(head, 'reply-to')).toEqual(['"Newsletter Team" <team@example.net>']);
    expect(values(head, 'x-original-from')).toEqual([
      '"Example Newsletter, Weekly Edition" <newsletter@example.net>',
    ]);
    expect(values(head, 'subject')[0]).toMatch(/two lines, and then once more$/);
  });

  it('a message without From gets one, named after the envelope sender', async () => {
    const { head } = split(await rewritten(mime('missing-from.eml')));
    expect(values(head, 'from')).toEqual([
      '"sender@example.org via info@example.com" <forwarder@example.com>',
    ]);
    expect(values(head, 'reply-to')).toEqual(['<sender@example.org>']);
  });

  it('8-bit body: every byte of the UTF-8 parts survives', async () => {
    const original = mime('8bit-utf8-body.eml');
    const { body } = split(await rewritten(original));
    expect(body.toString('utf8')).toContain('Schöne Grüße aus Köln');
    expect(body.equals(split(original).body)).toBe(true);
  });

  it('8-bit Latin-1 body with stray bytes (NUL, a lone CR): passed through untouched', async () => {
    const original = mime('8bit-latin1-body.eml');
    const output = await rewritten(original);
    expect(split(output).body.equals(split(original).body)).toBe(true);
    expect(output.includes(Buffer.from([0xff, 0xfe, 0x00, 0x01]))).toBe(true);
    expect(decodeEncodedWords(values(split(output).head, 'from')[0]!)).toBe(
      'François Gaël via info@example.com <forwarder@example.com>',
    );
  });

  it('huge headers: thousands of trace fields and a 100 KB folded field pass through', async () => {
    const original = mime('multipart-alternative.eml');
    const { head, body } = split(original);
    const received = Array.from(
      { length: 4000 },
      (_, i) =>
        `Received: from relay-${i}.example.net (relay-${i}.example.net [198.51.100.${i % 256}])\r\n\tby relay-${i + 1}.example.net with ESMTP id ${i}; Tue, 14 May 2024 10:22:45 +0000`,
    ).join('\r\n');
    const references = `References: ${Array.from({ length: 2000 }, (_, i) => `<ref-${i}-${'r'.repeat(30)}@example.org>`).join('\r\n ')}`;
    const hugeName = `From: "${'Very Long Name '.repeat(500)}" <alice@example.org>`;
    const message = Buffer.concat([
      Buffer.from(`${received}\r\n${references}\r\n${hugeName}\r\n${head}\r\n\r\n`, 'latin1'),
      body,
    ]);
    expect(message.length).toBeGreaterThan(600_000);
    const output = await rewritten(message);
    const out = split(output);
    expect(out.body.equals(body)).toBe(true);
    expect(values(out.head, 'received')).toHaveLength(4001);
    expect(values(out.head, 'references')[0]!.length).toBeGreaterThan(100_000);
    // The first From wins, cut to a sensible length; the message's second From is dropped.
    const from = decodeEncodedWords(values(out.head, 'from')[0]!);
    expect(from).toMatch(/^"?Very Long Name .*… via info@example.com"? <forwarder@example.com>$/);
    expect(values(out.head, 'from')).toHaveLength(1);
  });

  it('a header block over the limit is a MalformedMessageError, not a crash', async () => {
    const message = Buffer.from(`X-Big: ${'a'.repeat(5000)}\r\nFrom: a@example.org\r\n\r\nbody`);
    await expect(forward(message, ctx, 1024)).rejects.toBeInstanceOf(MalformedMessageError);
  });

  it('a message we forwarded before stops the rewrite with the loop reason', async () => {
    const once = await rewritten(mime('multipart-alternative.eml'));
    const again: RewriteResult<LoopReason> = await forward(once, {
      ...ctx,
      target: 'someone@example.net' as EmailAddress,
    });
    expect(again).toEqual({ kind: 'aborted', reason: 'forwardedHeader' });
  });

  it('odd input still yields a message: no body, or no header block at all', async () => {
    const headersOnly = split(await rewritten(Buffer.from('Subject: only\r\nFrom: a@example.org')));
    expect(values(headersOnly.head, 'subject')).toEqual(['only']);
    expect(headersOnly.body.length).toBe(0);
    const empty = split(await rewritten(Buffer.alloc(0)));
    expect(firstMailbox(values(empty.head, 'from')[0]!).address).toBe('forwarder@example.com');
  });
});
