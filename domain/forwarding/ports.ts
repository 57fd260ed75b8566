/** What forwarding needs from outside: stored mail (S3) and an SMTP server. */
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
