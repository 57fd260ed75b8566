/**
 * The SMTP sender (nodemailer): sends a prepared message exactly as it is — nodemailer's `raw`
 * adds no header and re-encodes nothing — with an explicit envelope.
 */
import { createTransport } from 'nodemailer';
import type { MailSender, SendResult } from '../../domain/forwarding/ports';
import type { SmtpFailure } from '../../domain/forwarding/smtp';

/**
 * How long each step may take before the send fails with `ETIMEDOUT` (a retry, like a 4xx):
 * nodemailer's own defaults (2 min to connect, 30 s for the greeting, 10 min of silence) would
 * let a server that stops answering hold every forwarding slot and outlast the shutdown deadline.
 */
export interface SmtpTimeouts {
  /** TCP (and TLS) connection established. */
  readonly connectionMs: number;
  /** The server's 220 greeting, after connecting. */
  readonly greetingMs: number;
  /** Any silence on an open connection (an EHLO, RCPT or end of DATA never answered). */
  readonly socketMs: number;
}

export interface SmtpSender extends MailSender {
  /** Closes pooled connections (`?pool=true` in the URL); sends in progress are not waited for. */
  close(): void;
}

/**
 * `url`: `smtp://host:port` (STARTTLS when offered), `smtps://user:pass@host:465`; nodemailer
 * reads further options from the query string (`?pool=true&maxConnections=5`), where a
 * timeout given explicitly (`?socketTimeout=…`) wins over `timeouts`.
 */
export function makeSmtpSender(url: string, timeouts: SmtpTimeouts): SmtpSender {
  const transport = createTransport(withTimeouts(url, timeouts));
  return {
    async send({ from, to, message }): Promise<SendResult> {
      try {
        const info = await transport.sendMail({
          envelope: { from, to: [to] },
          raw: Buffer.from(message.buffer, message.byteOffset, message.byteLength),
        });
        return { ok: true, response: info.response };
      } catch (error) {
        return { ok: false, failure: smtpFailure(error) };
      }
    },
    close: () => transport.close(),
  };
}

function smtpFailure(error: unknown): SmtpFailure {
  if (!(error instanceof Error)) {
    return { responseCode: null, code: null, response: null, message: String(error) };
  }
  const details = error as Error & { responseCode?: unknown; code?: unknown; response?: unknown };
  return {
    responseCode: typeof details.responseCode === 'number' ? details.responseCode : null,
    code: typeof details.code === 'string' ? details.code : null,
    response: typeof details.response === 'string' ? details.response : null,
    message: error.message,
  };
}

function withTimeouts(text: string, timeouts: SmtpTimeouts): string {
  const url = new URL(text);
  for (const [option, ms] of [
    ['connectionTimeout', timeouts.connectionMs],
    ['greetingTimeout', timeouts.greetingMs],
    ['socketTimeout', timeouts.socketMs],
  ] as const) {
    if (!url.searchParams.has(option)) url.searchParams.set(option, String(ms));
  }
  return url.toString();
}
