/**
 * The SMTP sender (nodemailer): sends a prepared message exactly as it is — nodemailer's `raw`
 * adds no header and re-encodes nothing — with an explicit envelope.
 */
import { createTransport } from 'nodemailer';
import type { MailSender, SendResult } from '../../domain/forwarding/ports';
import type { SmtpFailure } from '../../domain/forwarding/smtp';

export interface SmtpSender extends MailSender {
  /** Closes pooled connections (`?pool=true` in the URL); sends in progress are not waited for. */
  close(): void;
}

/**
 * `url`: `smtp://host:port` (STARTTLS when offered), `smtps://user:pass@host:465`; nodemailer
 * reads further options from the query string (`?pool=true&maxConnections=5`).
 */
export function makeSmtpSender(url: string): SmtpSender {
  const transport = createTransport(url);
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
