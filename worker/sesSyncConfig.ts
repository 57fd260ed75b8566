/**
 * The SES suppression sync part of the configuration: `SES_SUPPRESSION_SYNC`,
 * `SES_SYNC_RATE_PER_SECOND`, `SES_SYNC_PULL_INTERVAL_SECONDS`, `SES_SYNC_IMPORT_BUCKET`, and
 * the SDK's own `AWS_ENDPOINT_URL_SESV2` (checked for form only).
 */
import { left, right, type Either } from 'fp-ts/Either';
import * as t from 'io-ts';
import type { SesSyncMode } from '../domain/sesSync';

export interface SesSyncConfig {
  readonly mode: SesSyncMode;
  /** SES API requests per second, across replicas (the account's SESv2 rate). */
  readonly ratePerSecond: number;
  readonly pullIntervalMs: number;
  /** Where `suppression push --all --bulk` writes its CSV; null: bulk is not available. */
  readonly importBucket: string | null;
  readonly region: string | null;
  /** AWS_ENDPOINT_URL(_S3) is set: S3 requests go to it with the bucket in the path. */
  readonly s3CustomEndpoint: boolean;
}

/** S3's bucket naming rules (the common ones: 3–63 of a-z, 0-9, dot, hyphen). */
export const s3BucketName = new t.Type<string, string, unknown>(
  'an S3 bucket name (3–63 of a-z, 0-9, "." and "-")',
  (u): u is string => typeof u === 'string',
  (u, c) =>
    typeof u === 'string' && /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(u.trim())
      ? t.success(u.trim())
      : t.failure(u, c),
  t.identity,
);

export interface SesSyncEnv {
  readonly SES_SUPPRESSION_SYNC?: SesSyncMode;
  readonly SES_SYNC_RATE_PER_SECOND?: number;
  readonly SES_SYNC_PULL_INTERVAL_SECONDS?: number;
  readonly SES_SYNC_IMPORT_BUCKET?: string;
  readonly AWS_REGION?: string;
  readonly AWS_ENDPOINT_URL?: string;
  readonly AWS_ENDPOINT_URL_S3?: string;
}

/** The settings, or the one line that says which variable is wrong. */
export function sesSyncConfig(e: SesSyncEnv): Either<string, SesSyncConfig> {
  const mode = e.SES_SUPPRESSION_SYNC ?? 'off';
  // The SDK would only find out at the first request, in a job's failure.
  if (mode !== 'off' && e.AWS_REGION === undefined)
    return left(
      `AWS_REGION: expected the SES region (e.g. eu-west-1) with SES_SUPPRESSION_SYNC=${mode}, got ""`,
    );
  return right({
    mode,
    ratePerSecond: e.SES_SYNC_RATE_PER_SECOND ?? 1,
    pullIntervalMs: (e.SES_SYNC_PULL_INTERVAL_SECONDS ?? 3600) * 1000,
    importBucket: e.SES_SYNC_IMPORT_BUCKET ?? null,
    region: e.AWS_REGION ?? null,
    s3CustomEndpoint: e.AWS_ENDPOINT_URL_S3 !== undefined || e.AWS_ENDPOINT_URL !== undefined,
  });
}
