/**
 * Mail SES stored in S3 (the S3 receipt action): the client, and reading one message with a
 * size limit.
 */
import { GetObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import type { StoredMessageRead, StoredMessages } from '../../domain/forwarding/ports';

export interface S3ClientOptions {
  /** Null: the SDK's own resolution (AWS_REGION, shared config). */
  readonly region: string | null;
  /** An explicit endpoint (the embedded emulator); otherwise AWS_ENDPOINT_URL(_S3) or AWS. */
  readonly endpoint?: string;
  /**
   * A custom endpoint is in use: put the bucket in the path. Virtual-hosted addressing needs
   * `<bucket>.<endpoint host>` to resolve, which emulators' hosts do not.
   */
  readonly customEndpoint: boolean;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

export function makeS3Client(options: S3ClientOptions): S3Client {
  return new S3Client({
    ...(options.region === null ? {} : { region: options.region }),
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
    forcePathStyle: options.customEndpoint || options.endpoint !== undefined,
    maxAttempts: 3,
  });
}

/** S3 errors that waiting will not cure: the object (or its bucket) is not there. */
const MISSING = new Set(['NoSuchKey', 'NoSuchBucket']);

/**
 * Metadata the S3 encryption client writes beside the ciphertext (`x-amz-meta-…`; the SDK strips
 * the prefix): v2 and v1 envelope keys.
 */
const ENVELOPE_KEYS = ['x-amz-key-v2', 'x-amz-key'];

export function makeStoredMessages(s3: S3Client): StoredMessages {
  return {
    async read({ bucketName, objectKey }, maxBytes): Promise<StoredMessageRead> {
      let response;
      try {
        response = await s3.send(new GetObjectCommand({ Bucket: bucketName, Key: objectKey }));
      } catch (error) {
        if (error instanceof S3ServiceException && MISSING.has(error.name)) {
          return { kind: 'missing', reason: error.name };
        }
        throw error;
      }
      const body = response.Body as Readable | undefined;
      if (ENVELOPE_KEYS.some((key) => response.Metadata?.[key] !== undefined)) {
        body?.destroy();
        return { kind: 'encrypted' };
      }
      if (body === undefined) return { kind: 'found', bytes: new Uint8Array() };
      const announced = response.ContentLength ?? 0;
      if (announced > maxBytes) {
        body.destroy();
        return { kind: 'tooLarge', size: announced };
      }
      // Counted as it arrives as well: the limit holds whatever the header said.
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of body) {
        size += (chunk as Buffer).length;
        if (size > maxBytes) {
          body.destroy();
          return { kind: 'tooLarge', size };
        }
        chunks.push(chunk as Buffer);
      }
      return { kind: 'found', bytes: Buffer.concat(chunks, size) };
    },
  };
}
