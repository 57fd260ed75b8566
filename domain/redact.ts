/**
 * What output must never carry (docs/operations.md, "Logging"): credentials from a URL, and email
 * addresses. Pure text functions, used by the logger's serializers and the CLI's stderr so that
 * no log site or message can forget them.
 */

/**
 * `scheme://user:password@` → `scheme://[redacted]@`: the whole user-info, up to the host's
 * last `@` (a password may hold one). The brackets keep the mask from reading as an address.
 */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#"'<>]*@/gi;

/** Every URL's credentials in `text` replaced by `***`; the rest is kept to say where. */
export function maskUrlCredentials(text: string): string {
  return text.includes('://') ? text.replace(URL_CREDENTIALS, '$1[redacted]@') : text;
}

const ADDRESS = /[^\s<>()[\]",;:@/]+@[^\s<>()[\]",;:@/]+/g;

/** Replaces every address-looking word by `<address>`: logs carry no addresses. */
export const redactAddresses = (text: string): string =>
  text.includes('@') ? text.replace(ADDRESS, '<address>') : text;

/** Both of the above: text from outside (an error message, a reply) made fit for output. */
export const redactText = (text: string): string => redactAddresses(maskUrlCredentials(text));

/** An error reduced to what may be logged. */
export interface LoggableError {
  readonly message: string;
  readonly code?: string;
  readonly name?: string;
}

/**
 * An error as a log field: its message (redacted) and code, nothing else. ioredis attaches the
 * failed `command` with its arguments — for BullMQ, the whole job — and BullMQ's messages name
 * job ids, which hold addresses: logging the error object as it is would print them.
 */
export function loggableError(error: unknown): LoggableError {
  if (typeof error === 'string') return { message: redactText(error) };
  // An Error, or an error already reduced (the logger reduces every `err` field once more).
  if (typeof error !== 'object' || error === null || !('message' in error))
    return { message: redactText(String(error)) };
  const { message, code, name } = error as { message: unknown; code?: unknown; name?: unknown };
  return {
    message: redactText(String(message)),
    ...(typeof code === 'string' || typeof code === 'number' ? { code: String(code) } : {}),
    ...(typeof name === 'string' && name !== 'Error' ? { name } : {}),
  };
}
