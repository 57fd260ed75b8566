/** How a failed SMTP delivery is treated: retried later, or failed for good. */
import { redactAddresses } from '../redact';

/** A send that did not end in a 2xx reply, as the SMTP adapter reports it. */
export interface SmtpFailure {
  /** The server's reply code (451, 550), or null when it never answered (connection errors). */
  readonly responseCode: number | null;
  /** The client's error code: `ECONNECTION`, `ETIMEDOUT`, `EENVELOPE`, `EMESSAGE`, `EAUTH`, … */
  readonly code: string | null;
  /** The server's reply as sent; it may name addresses. */
  readonly response: string | null;
  readonly message: string;
}

/**
 * 5xx replies are permanent (RFC 5321 §4.2.1): the server refuses this message and would
 * refuse it again. Two exceptions retry like 4xx replies and connection errors do: 503 (bad
 * sequence of commands) is about the session, not the message, and a failed login (`EAUTH`,
 * 535) is a configuration problem that failing every message for good would not fix.
 */
export function isPermanentSmtpFailure(failure: SmtpFailure): boolean {
  const code = failure.responseCode;
  return code !== null && code >= 500 && code < 600 && code !== 503 && failure.code !== 'EAUTH';
}

/** One line for logs and the job's failed reason: the reply (or error), addresses redacted. */
export function describeSmtpFailure(failure: SmtpFailure): string {
  const text = failure.response ?? failure.message;
  const prefix = failure.responseCode === null ? (failure.code ?? 'SMTP error') : 'SMTP';
  return `${prefix}: ${redactAddresses(text).replace(/\s+/g, ' ').trim()}`;
}
