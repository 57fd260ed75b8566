/** What forwarding needs from outside: stored mail (S3), an SMTP server, and a record of sends. */
import type { EmailAddress } from '../address';
import type { SmtpFailure } from './smtp';

export interface StoredMessageLocation {
  readonly bucketName: string;
  readonly objectKey: string;
}

export type StoredMessageRead =
  | { readonly kind: 'found'; readonly bytes: Uint8Array }
  /** No such object or bucket: waiting will not make it appear. */
  | { readonly kind: 'missing'; readonly reason: string }
  /** Larger than the limit; `size` is what the store reported. Nothing more was read. */
  | { readonly kind: 'tooLarge'; readonly size: number }
  /**
   * Encrypted client-side (a receipt rule with a KMS key: SES stores the mail through the S3
   * encryption client): the object holds ciphertext, which must never be forwarded as mail.
   */
  | { readonly kind: 'encrypted' };

export interface StoredMessages {
  /** Reads a message SES stored, but no more than `maxBytes` of it. Other errors throw. */
  read(location: StoredMessageLocation, maxBytes: number): Promise<StoredMessageRead>;
}

export type SendResult =
  | { readonly ok: true; readonly response: string }
  | { readonly ok: false; readonly failure: SmtpFailure };

export interface MailSender {
  /** Sends `message` exactly as given, with this envelope (MAIL FROM, one RCPT TO). */
  send(mail: {
    readonly from: EmailAddress;
    readonly to: EmailAddress;
    readonly message: Uint8Array;
  }): Promise<SendResult>;
}

/**
 * Which copies an SMTP server has already accepted. Written the moment the server answers 250,
 * read before every send: a job that runs again after its send (its lock lapsed while the
 * process lived, or the process died before BullMQ recorded completion) does not send again.
 */
export interface SentCopies {
  /** The server's reply to the earlier send of this copy, or null if there was none. */
  sentBefore(copyId: string): Promise<string | null>;
  record(copyId: string, response: string): Promise<void>;
}
