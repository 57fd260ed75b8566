/**
 * A real SMTP server for the integration tests (the `smtp-server` package, on a free port): it
 * keeps every message it accepts, and answers as the test says — 250, a 4xx or a 5xx after the
 * data, or a rejection at RCPT TO.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  readonly from: string;
  readonly to: readonly string[];
  /** The message as it arrived, dot-unstuffed. */
  readonly raw: Buffer;
}

/** What the server says at the end of DATA; `null` accepts. */
export type Reply = { readonly code: number; readonly message: string } | null;

export interface TestSmtpServer {
  readonly url: string;
  /** Messages accepted (answered 250), in order. */
  readonly accepted: ReceivedMail[];
  /** Every message that reached the end of DATA, accepted or not. */
  readonly attempts: ReceivedMail[];
  /** Decides the reply to each message; `attempt` counts from 1 over every message received. */
  replyWith(reply: (mail: ReceivedMail, attempt: number) => Reply): void;
  /** A reply to RCPT TO for the addresses it returns one for (checked before any data). */
  rejectRecipients(reply: (address: string) => Reply): void;
  /** Forgets messages and goes back to accepting everything. */
  reset(): void;
  stop(): Promise<void>;
}

const smtpError = ({ code, message }: { code: number; message: string }): Error =>
  Object.assign(new Error(message), { responseCode: code });

export async function startSmtpServer(): Promise<TestSmtpServer> {
  const accepted: ReceivedMail[] = [];
  const attempts: ReceivedMail[] = [];
  let onMessage: (mail: ReceivedMail, attempt: number) => Reply = () => null;
  let onRecipient: (address: string) => Reply = () => null;

  const server = new SMTPServer({
    // Plain SMTP on localhost: no STARTTLS (its self-signed certificate would fail the client's
    // check) and no AUTH (the URL carries no credentials).
    disabledCommands: ['STARTTLS', 'AUTH'],
    authOptional: true,
    logger: false,
    onRcptTo(address, _session, callback) {
      const reply = onRecipient(address.address);
      callback(reply === null ? null : smtpError(reply));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const { mailFrom, rcptTo } = session.envelope;
        const mail: ReceivedMail = {
          from: mailFrom === false ? '' : mailFrom.address,
          to: rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
        };
        attempts.push(mail);
        const reply = onMessage(mail, attempts.length);
        if (reply === null) accepted.push(mail);
        callback(reply === null ? null : smtpError(reply));
      });
    },
  });
  server.on('error', () => undefined); // a client that hangs up mid-session is not our concern
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;

  return {
    url: `smtp://127.0.0.1:${port}`,
    accepted,
    attempts,
    replyWith: (reply) => {
      onMessage = reply;
    },
    rejectRecipients: (reply) => {
      onRecipient = reply;
    },
    reset() {
      accepted.length = 0;
      attempts.length = 0;
      onMessage = () => null;
      onRecipient = () => null;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
