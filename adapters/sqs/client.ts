/** The SQS client, configured the way the SDK documents: region and endpoints from its own variables. */
import { SQSClient } from '@aws-sdk/client-sqs';

export interface SqsClientOptions {
  /** Null: the SDK's own resolution (AWS_REGION, shared config). */
  readonly region: string | null;
  /** An explicit endpoint (the embedded emulator); otherwise AWS_ENDPOINT_URL(_SQS) or AWS. */
  readonly endpoint?: string;
  /** A custom endpoint is in use: send to it even though queue URLs name another host. */
  readonly customEndpoint: boolean;
  /** Static credentials for emulators, which accept any. */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /**
   * Calls in flight at once (sockets to the endpoint); the SDK's own limit when absent (50).
   * Pollers beyond the limit wait for a socket, and a batch's delete can wait behind long polls
   * that hold theirs for up to 20 s (bench:pollers measured it at 64 pollers).
   */
  readonly maxSockets?: number;
}

/** The AWS SDK's default: sockets per endpoint of its Node HTTP handler. */
export const SDK_DEFAULT_MAX_SOCKETS = 50;

export function makeSqsClient(options: SqsClientOptions): SQSClient {
  return new SQSClient({
    ...(options.region === null ? {} : { region: options.region }),
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    // Emulators build queue URLs on hosts that do not resolve (sqs.us-east-1.localhost);
    // with a custom endpoint the SDK must not swap it for the queue URL's host.
    useQueueUrlAsEndpoint: !(options.customEndpoint || options.endpoint !== undefined),
    maxAttempts: 3,
    ...(options.maxSockets === undefined
      ? {}
      : {
          requestHandler: {
            httpAgent: { maxSockets: options.maxSockets },
            httpsAgent: { maxSockets: options.maxSockets },
          },
        }),
  });
}
