/**
 * SES's account-level suppression list through SESv2: one function per request, each one HTTP
 * request. The client makes no retries of its own (`maxAttempts: 1`): every retry goes back
 * through the `ses-sync` queue and its rate limit, so the account's API rate is never exceeded
 * by retries the limiter cannot see.
 */
import {
  CreateImportJobCommand,
  DeleteSuppressedDestinationCommand,
  GetImportJobCommand,
  GetSuppressedDestinationCommand,
  ListSuppressedDestinationsCommand,
  PutSuppressedDestinationCommand,
  SESv2Client,
} from '@aws-sdk/client-sesv2';
import type { EmailAddress } from '../../domain/address';
import { isSesReason, type SesReason } from '../../domain/sesSync';

export interface SesClientOptions {
  /** Null: the SDK's own resolution (AWS_REGION, shared config). */
  readonly region: string | null;
  /** For tests: an explicit endpoint; otherwise AWS_ENDPOINT_URL(_SESV2) or AWS. */
  readonly endpoint?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Per request; an answer later than this counts as a failure to retry. */
  readonly timeoutMs?: number;
}

export function makeSesClient(options: SesClientOptions): SESv2Client {
  return new SESv2Client({
    ...(options.region === null ? {} : { region: options.region }),
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    maxAttempts: 1,
    requestHandler: {
      requestTimeout: options.timeoutMs ?? 10_000,
      connectionTimeout: options.timeoutMs ?? 10_000,
    },
  });
}

/** A failed SES request: whether waiting and trying again can help, and SES's error name. */
export class SesRequestError extends Error {
  override readonly name = 'SesRequestError';
  constructor(
    readonly operation: string,
    readonly code: string,
    readonly retryable: boolean,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${operation}: ${code}: ${message}`, options);
  }
}

/**
 * Throttling, SES's 5xx and failures to get any answer (refused, reset, timed out) are worth
 * retrying; anything else (bad request, access denied, a limit) will fail again the same way.
 */
export function classify(operation: string, error: unknown): SesRequestError {
  if (error instanceof SesRequestError) return error;
  const e = error as {
    name?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
    $fault?: string;
    code?: string;
  };
  const status = e.$metadata?.httpStatusCode;
  const code = e.name ?? 'Error';
  const retryable =
    code === 'TooManyRequestsException' ||
    code === 'ThrottlingException' ||
    status === 429 ||
    (status !== undefined && status >= 500) ||
    // No HTTP answer at all: the network, a timeout, or SES unreachable.
    (status === undefined && e.$fault !== 'client');
  return new SesRequestError(operation, code, retryable, e.message ?? String(error), {
    cause: error,
  });
}

const isNotFound = (error: unknown) => (error as { name?: string }).name === 'NotFoundException';

export interface SesSuppressedAddress {
  readonly address: string;
  readonly reason: SesReason;
  /** ms since the epoch */
  readonly lastUpdateTime: number;
}

export interface SesImportJob {
  /** CREATED, PROCESSING, COMPLETED, FAILED or CANCELLED. */
  readonly status: string;
  readonly processed: number;
  readonly failed: number;
  readonly failureReason: string | null;
}

/** The requests the worker makes. Each throws a classified `SesRequestError`. */
export interface SesSuppressionList {
  get(address: EmailAddress): Promise<SesSuppressedAddress | null>;
  put(address: EmailAddress, reason: SesReason): Promise<void>;
  /** True when SES held the address. */
  delete(address: EmailAddress): Promise<boolean>;
  listPage(query: {
    readonly since: Date | null;
    readonly until: Date;
    readonly nextToken: string | null;
    readonly pageSize: number;
  }): Promise<{ entries: SesSuppressedAddress[]; nextToken: string | null }>;
  /** A bulk PUT of the CSV at `s3Url` (s3://bucket/key); the job's id. */
  createImport(s3Url: string): Promise<string>;
  getImport(jobId: string): Promise<SesImportJob>;
}

/**
 * `beforeRequest` is awaited before each request: the account-wide pacing (see
 * SesSyncState.waitForRequestSlot).
 */
export function makeSesSuppressionList(
  client: SESv2Client,
  beforeRequest: () => Promise<void> = () => Promise.resolve(),
): SesSuppressionList {
  const call = async <T>(operation: string, run: () => Promise<T>): Promise<T> => {
    await beforeRequest();
    try {
      return await run();
    } catch (error) {
      throw classify(operation, error);
    }
  };
  const summary = (raw: {
    EmailAddress?: string;
    Reason?: string;
    LastUpdateTime?: Date;
  }): SesSuppressedAddress | null =>
    raw.EmailAddress === undefined || !isSesReason(raw.Reason)
      ? null
      : {
          address: raw.EmailAddress,
          reason: raw.Reason,
          lastUpdateTime: raw.LastUpdateTime?.getTime() ?? 0,
        };

  return {
    get: (address) =>
      call('GetSuppressedDestination', async () => {
        try {
          const answer = await client.send(
            new GetSuppressedDestinationCommand({ EmailAddress: address }),
          );
          return answer.SuppressedDestination === undefined
            ? null
            : summary(answer.SuppressedDestination);
        } catch (error) {
          if (isNotFound(error)) return null;
          throw error;
        }
      }),
    put: (address, reason) =>
      call('PutSuppressedDestination', async () => {
        await client.send(
          new PutSuppressedDestinationCommand({ EmailAddress: address, Reason: reason }),
        );
      }),
    delete: (address) =>
      call('DeleteSuppressedDestination', async () => {
        try {
          await client.send(new DeleteSuppressedDestinationCommand({ EmailAddress: address }));
          return true;
        } catch (error) {
          if (isNotFound(error)) return false;
          throw error;
        }
      }),
    listPage: ({ since, until, nextToken, pageSize }) =>
      call('ListSuppressedDestinations', async () => {
        const answer = await client.send(
          new ListSuppressedDestinationsCommand({
            ...(since === null ? {} : { StartDate: since }),
            EndDate: until,
            ...(nextToken === null ? {} : { NextToken: nextToken }),
            PageSize: pageSize,
          }),
        );
        return {
          entries: (answer.SuppressedDestinationSummaries ?? [])
            .map(summary)
            .filter((entry): entry is SesSuppressedAddress => entry !== null),
          nextToken: answer.NextToken ?? null,
        };
      }),
    createImport: (s3Url) =>
      call('CreateImportJob', async () => {
        const answer = await client.send(
          new CreateImportJobCommand({
            ImportDestination: {
              SuppressionListDestination: { SuppressionListImportAction: 'PUT' },
            },
            ImportDataSource: { S3Url: s3Url, DataFormat: 'CSV' },
          }),
        );
        if (answer.JobId === undefined) throw new Error('CreateImportJob answered without a JobId');
        return answer.JobId;
      }),
    getImport: (jobId) =>
      call('GetImportJob', async () => {
        const answer = await client.send(new GetImportJobCommand({ JobId: jobId }));
        return {
          status: answer.JobStatus ?? 'CREATED',
          processed: answer.ProcessedRecordsCount ?? 0,
          failed: answer.FailedRecordsCount ?? 0,
          failureReason: answer.FailureInfo?.ErrorMessage ?? null,
        };
      }),
  };
}
