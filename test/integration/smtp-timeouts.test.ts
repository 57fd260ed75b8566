/**
 * SMTP timeouts against real TCP servers that stop answering: one greets and then never answers
 * EHLO, one never greets. Without timeouts each send would hold its connection (and a forwarding
 * slot) for nodemailer's defaults, 30 s to 10 min; with them it fails as `ETIMEDOUT`, a retry.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { makeSmtpSender, type SmtpTimeouts } from '../../adapters/mail/smtp';
import { isPermanentSmtpFailure } from '../../domain/forwarding/smtp';
import type { EmailAddress } from '../../domain/address';

interface SilentServer {
  readonly url: string;
  /** Connections still open. */
  readonly open: Set<Socket>;
  /** Resolves when no connection is open any more. */
  allClosed(): Promise<void>;
  stop(): Promise<void>;
}

async function startSilentServer(greet: boolean): Promise<SilentServer> {
  const open = new Set<Socket>();
  let onEmpty: (() => void) | null = null;
  const server: Server = createServer((socket) => {
    open.add(socket);
    socket.on('close', () => {
      open.delete(socket);
      if (open.size === 0) onEmpty?.();
    });
    socket.on('error', () => undefined);
    // Reads what the client says (EHLO…) and never answers.
    socket.resume();
    if (greet) socket.write('220 silent.test ESMTP\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    open,
    allClosed: () =>
      open.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => (onEmpty = resolve)),
    stop: () => {
      for (const socket of open) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const TIMEOUTS: SmtpTimeouts = { connectionMs: 2000, greetingMs: 300, socketMs: 300 };
const mail = {
  from: 'forwarder@example.com' as EmailAddress,
  to: 'ops@example.net' as EmailAddress,
  message: Buffer.from('Subject: hi\r\n\r\nhello\r\n'),
};

describe.each([
  ['greets, then never answers EHLO', true],
  ['never greets', false],
])('a server that %s', (_label, greet) => {
  let server: SilentServer;
  beforeAll(async () => {
    server = await startSilentServer(greet);
  });
  afterAll(() => server.stop());

  it('fails the send as a timeout to retry, and closes the connection', async () => {
    const sender = makeSmtpSender(server.url, TIMEOUTS);
    try {
      const result = await sender.send(mail);
      expect(result).toMatchObject({
        ok: false,
        failure: { code: 'ETIMEDOUT', responseCode: null },
      });
      expect(!result.ok && isPermanentSmtpFailure(result.failure)).toBe(false);
      await server.allClosed();
      expect(server.open.size).toBe(0);
    } finally {
      sender.close();
    }
    // Far below nodemailer's own defaults (30 s for the greeting, 10 min of silence).
  }, 10_000);
});
