/**
 * Confirming an SNS subscription by visiting its SubscribeURL (opt-in: SNS_CONFIRM_SUBSCRIPTIONS).
 * The URL comes from a message anyone able to write to the queue could forge, so only an
 * https URL on an SNS host is ever requested.
 */
const SNS_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;
const TIMEOUT_MS = 10_000;

export function isSnsUrl(text: string): boolean {
  if (!URL.canParse(text)) return false;
  const url = new URL(text);
  return url.protocol === 'https:' && SNS_HOST.test(url.hostname) && url.port === '';
}

export async function confirmSubscription(subscribeUrl: string): Promise<void> {
  if (!isSnsUrl(subscribeUrl)) {
    throw new Error(`refusing to confirm: ${subscribeUrl} is not an https URL on an SNS host`);
  }
  const response = await fetch(subscribeUrl, {
    redirect: 'error',
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  if (!response.ok) throw new Error(`SNS answered ${response.status}`);
}
