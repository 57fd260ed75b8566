/**
 * POSTs a JSON notification to an operator's webhook (REPUTATION_WEBHOOK_URL): a few attempts
 * with a timeout each, since the call happens once per change and a lost one is not repeated.
 */
export interface WebhookOptions {
  readonly url: string;
  /** Per attempt. */
  readonly timeoutMs?: number;
  readonly attempts?: number;
  /** Before the second attempt; doubles each time. */
  readonly backoffMs?: number;
}

export class WebhookError extends Error {
  override readonly name = 'WebhookError';
}

export type Notify = (payload: unknown) => Promise<void>;

export function makeWebhookNotifier(options: WebhookOptions): Notify {
  const timeoutMs = options.timeoutMs ?? 5000;
  const attempts = options.attempts ?? 3;
  const backoffMs = options.backoffMs ?? 1000;
  return async (payload) => {
    const body = JSON.stringify(payload);
    let last = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      try {
        const response = await fetch(options.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'ses-worker' },
          body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        await response.body?.cancel();
        if (response.ok) return;
        last = `HTTP ${response.status}`;
        // A 4xx other than 408/429 will not change on a retry.
        if (response.status < 500 && response.status !== 408 && response.status !== 429) break;
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      if (attempt < attempts) {
        await new Promise((resolve) => setTimeout(resolve, backoffMs * 2 ** (attempt - 1)));
      }
    }
    throw new WebhookError(`POST ${redacted(options.url)} failed: ${last}`);
  };
}

/** Only the URL's origin: webhook URLs often carry a secret in the path or query. */
export function redacted(url: string): string {
  return `${new URL(url).origin}/…`;
}
