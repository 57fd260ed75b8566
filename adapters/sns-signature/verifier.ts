/**
 * SNS signature verification: the signing certificate is fetched over https from the SNS host
 * the envelope names (TLS authenticates the host; `domain/snsSignature.ts` decides which hosts
 * count), with a timeout, a size limit and no redirects, and kept in a bounded cache.
 *
 * A check that fails for good (forged, wrong host, bad certificate) is a poison message; a
 * certificate that cannot be fetched just now (timeout, connection error, 5xx) is not — the
 * message is left to come back, so an outage of the certificate host dead-letters nothing.
 */
import { verify as verifySignature, X509Certificate, type KeyObject } from 'node:crypto';
import { get } from 'node:https';
import { isLeft } from 'fp-ts/Either';
import { LRUCache } from 'lru-cache';
import {
  SNS_CERT_HOST,
  signingInput,
  type SignatureFailure,
  type SigningPolicy,
} from '../../domain/snsSignature';

export type SignatureCheck =
  | { readonly type: 'valid' }
  | ({ readonly type: 'invalid' } & SignatureFailure)
  /** The certificate could not be fetched now: try the message again later. */
  | { readonly type: 'unavailable'; readonly message: string };

export interface SnsSignatureVerifier {
  /** Checks an SQS body holding an SNS envelope. */
  verify(body: string): Promise<SignatureCheck>;
}

export interface SnsSignatureOptions {
  /** Null: any topic. */
  readonly topicArns?: readonly string[] | null;
  /** For tests only (a local HTTPS server): production accepts AWS's SNS hosts. */
  readonly certHost?: RegExp;
  /** For tests only: the CA of that server. Production uses Node's CA store. */
  readonly ca?: string;
  readonly fetchTimeoutMs?: number;
  /** AWS's certificates are about 2 KB. */
  readonly maxCertBytes?: number;
  readonly cacheSize?: number;
  readonly cacheTtlMs?: number;
}

/** A failure of the certificate URL: definitive (poison) or not (try later). */
class CertificateError extends Error {
  constructor(
    message: string,
    readonly definitive: boolean,
  ) {
    super(message);
  }
}

export function makeSnsSignatureVerifier(options: SnsSignatureOptions = {}): SnsSignatureVerifier {
  const policy: SigningPolicy = {
    certHost: options.certHost ?? SNS_CERT_HOST,
    topicArns: options.topicArns ? new Set(options.topicArns) : null,
  };
  const timeoutMs = options.fetchTimeoutMs ?? 5000;
  const maxBytes = options.maxCertBytes ?? 16 * 1024;
  // Promises are cached, so a batch naming one certificate fetches it once; failures are not.
  const keys = new LRUCache<string, Promise<KeyObject>>({
    max: options.cacheSize ?? 64,
    ttl: options.cacheTtlMs ?? 60 * 60 * 1000,
  });

  const publicKeyAt = (url: string): Promise<KeyObject> => {
    const cached = keys.get(url);
    if (cached !== undefined) return cached;
    const loading = fetchText(url, { timeoutMs, maxBytes, ca: options.ca }).then(publicKeyOf);
    keys.set(url, loading);
    loading.catch(() => keys.delete(url));
    return loading;
  };

  return {
    async verify(body) {
      let envelope: unknown;
      try {
        envelope = JSON.parse(body);
      } catch {
        return { type: 'invalid', reason: 'unsigned', message: 'the body is not JSON' };
      }
      if (typeof envelope !== 'object' || envelope === null || Array.isArray(envelope))
        return { type: 'invalid', reason: 'unsigned', message: 'the body is not an SNS envelope' };
      const input = signingInput(envelope as Record<string, unknown>, policy);
      if (isLeft(input)) return { type: 'invalid', ...input.left };

      let key: KeyObject;
      try {
        key = await publicKeyAt(input.right.certUrl);
      } catch (error) {
        const failure =
          error instanceof CertificateError ? error : new CertificateError(String(error), false);
        return failure.definitive
          ? { type: 'invalid', reason: 'certRejected', message: failure.message }
          : { type: 'unavailable', message: failure.message };
      }
      const valid = verifySignature(
        input.right.algorithm,
        Buffer.from(input.right.stringToSign, 'utf8'),
        key,
        Buffer.from(input.right.signature, 'base64'),
      );
      return valid
        ? { type: 'valid' }
        : {
            type: 'invalid',
            reason: 'mismatch',
            message: 'the signature does not match the message',
          };
    },
  };
}

function publicKeyOf(pem: string): KeyObject {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch {
    throw new CertificateError('the signing certificate URL did not return a certificate', true);
  }
  const now = Date.now();
  if (Date.parse(certificate.validFrom) > now || Date.parse(certificate.validTo) < now)
    throw new CertificateError(
      `the signing certificate is not valid now (${certificate.validFrom} – ${certificate.validTo})`,
      true,
    );
  return certificate.publicKey;
}

function fetchText(
  url: string,
  options: { timeoutMs: number; maxBytes: number; ca: string | undefined },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = get(
      url,
      {
        timeout: options.timeoutMs,
        // A connection of its own: certificates are fetched about once an hour, long after the
        // host has closed a pooled keep-alive socket, and reusing one fails with ECONNRESET.
        agent: false,
        ...(options.ca === undefined ? {} : { ca: options.ca }),
      },
      (response) => {
        const status = response.statusCode ?? 0;
        if (status !== 200) {
          response.resume();
          // A redirect or a 4xx will not change by asking again; a 5xx may.
          reject(
            new CertificateError(
              `the signing certificate URL answered ${status}${status >= 300 && status < 400 ? ' (redirects are not followed)' : ''}`,
              status < 500,
            ),
          );
          return;
        }
        const declared = Number(response.headers['content-length'] ?? 0);
        if (declared > options.maxBytes) {
          response.destroy();
          reject(tooLarge(options.maxBytes));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > options.maxBytes) {
            response.destroy();
            reject(tooLarge(options.maxBytes));
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        response.on('error', (error) => reject(new CertificateError(error.message, false)));
      },
    );
    request.on('timeout', () =>
      request.destroy(new Error(`no answer within ${options.timeoutMs} ms`)),
    );
    // Network and TLS failures are not the message's fault (a container without CA
    // certificates would otherwise dead-letter everything): the message is tried again.
    request.on('error', (error) =>
      reject(
        new CertificateError(`fetching the signing certificate failed: ${error.message}`, false),
      ),
    );
  });
}

const tooLarge = (maxBytes: number) =>
  new CertificateError(`the signing certificate is larger than ${maxBytes} bytes`, true);
