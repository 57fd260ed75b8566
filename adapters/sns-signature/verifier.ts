/**
 * SNS signature verification: the signing certificate is read from a directory of pinned
 * certificates (`certDir`, files named as the URL's last path segment) or else fetched over
 * https from the SNS host the envelope names (TLS authenticates the host; `domain/snsSignature.ts`
 * decides which hosts count), with a timeout, a size limit and no redirects, and kept in a
 * bounded cache. Its validity is checked on every message, against an injectable clock.
 *
 * A check that fails for good (forged, wrong host, bad certificate) is a poison message; a
 * certificate that cannot be fetched just now (timeout, connection error, 5xx) is not — the
 * message is left to come back, so an outage of the certificate host dead-letters nothing.
 */
import { verify as verifySignature, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { get } from 'node:https';
import { join } from 'node:path';
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
  | ({
      readonly type: 'invalid';
      /** The certificate is not in the pinned directory and fetching is off. */
      readonly certificateMissing?: true;
    } & SignatureFailure)
  /** The certificate could not be fetched now: try the message again later. */
  | { readonly type: 'unavailable'; readonly message: string };

export interface SnsSignatureVerifier {
  /**
   * Checks an SQS body holding an SNS envelope. `at`: the moment the certificate must be valid
   * (default: now), for checking stored messages against the certificate of their day.
   */
  verify(body: string, options?: { readonly at?: Date }): Promise<SignatureCheck>;
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
  /**
   * A directory of pinned certificates, each named as the last path segment of its
   * `SigningCertURL` (`SimpleNotificationService-….pem`): one found there is used without any
   * network access. Null: none.
   */
  readonly certDir?: string | null;
  /** Fetch a certificate that is not pinned (default true); false: such a message is refused. */
  readonly fetchCertificates?: boolean;
  /** The clock certificate validity is checked against (ms since the epoch). */
  readonly now?: () => number;
}

/** A failure of the certificate URL: definitive (poison) or not (try later). */
class CertificateError extends Error {
  constructor(
    message: string,
    readonly definitive: boolean,
    /** Not pinned and not to be fetched: an operator can add the file and replay. */
    readonly missing = false,
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
  const certDir = options.certDir ?? null;
  const fetchAllowed = options.fetchCertificates ?? true;
  const now = options.now ?? (() => Date.now());
  // Promises are cached, so a batch naming one certificate loads it once; failures are not.
  const certificates = new LRUCache<string, Promise<SigningCertificate>>({
    max: options.cacheSize ?? 64,
    ttl: options.cacheTtlMs ?? 60 * 60 * 1000,
  });

  const load = async (url: string): Promise<SigningCertificate> => {
    const pinned = certDir === null ? null : await readPinned(certDir, url);
    if (pinned !== null)
      return certificateOf(pinned, `${pinnedName(url)} in SNS_CERT_DIR is not a certificate`);
    if (!fetchAllowed) {
      throw new CertificateError(
        certDir === null
          ? 'no SNS_CERT_DIR and SNS_CERT_FETCH is false'
          : `${pinnedName(url) ?? 'the certificate'} is not in SNS_CERT_DIR (${certDir}) and SNS_CERT_FETCH is false: add it and replay the DLQ`,
        true,
        true,
      );
    }
    return certificateOf(
      await fetchText(url, { timeoutMs, maxBytes, ca: options.ca }),
      'the signing certificate URL did not return a certificate',
    );
  };
  const certificateAt = (url: string): Promise<SigningCertificate> => {
    const cached = certificates.get(url);
    if (cached !== undefined) return cached;
    const loading = load(url);
    certificates.set(url, loading);
    loading.catch(() => certificates.delete(url));
    return loading;
  };

  return {
    async verify(body, verifyOptions = {}) {
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

      let certificate: SigningCertificate;
      try {
        certificate = await certificateAt(input.right.certUrl);
      } catch (error) {
        const failure =
          error instanceof CertificateError ? error : new CertificateError(String(error), false);
        if (!failure.definitive) return { type: 'unavailable', message: failure.message };
        return {
          type: 'invalid',
          reason: 'certRejected',
          message: failure.message,
          ...(failure.missing ? { certificateMissing: true as const } : {}),
        };
      }
      const at = verifyOptions.at?.getTime() ?? now();
      if (certificate.notBefore > at || certificate.notAfter < at)
        return {
          type: 'invalid',
          reason: 'certRejected',
          message: `the signing certificate is not valid ${verifyOptions.at ? `at ${verifyOptions.at.toISOString()}` : 'now'} (${certificate.validFrom} – ${certificate.validTo})`,
        };
      const valid = verifySignature(
        input.right.algorithm,
        Buffer.from(input.right.stringToSign, 'utf8'),
        certificate.publicKey,
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

/** What a check needs of a certificate, read once when it is loaded. */
interface SigningCertificate {
  readonly publicKey: KeyObject;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly validFrom: string;
  readonly validTo: string;
}

function certificateOf(pem: string, notCertificate: string): SigningCertificate {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch {
    throw new CertificateError(notCertificate, true);
  }
  const { publicKey, validFrom, validTo } = certificate;
  return {
    publicKey,
    notBefore: Date.parse(validFrom),
    notAfter: Date.parse(validTo),
    validFrom,
    validTo,
  };
}

/**
 * The file a certificate URL is pinned as: its last path segment, AWS's own name for it
 * (`SimpleNotificationService-….pem`). Null when that is not a plain file name.
 */
export function pinnedName(url: string): string | null {
  const name = new URL(url).pathname.split('/').pop() ?? '';
  return /^[A-Za-z0-9][A-Za-z0-9._-]*\.pem$/.test(name) ? name : null;
}

/** The pinned PEM for a URL, or null when the directory has none. */
async function readPinned(certDir: string, url: string): Promise<string | null> {
  const name = pinnedName(url);
  if (name === null) return null;
  try {
    return await readFile(join(certDir, name), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    // Unreadable (permissions, I/O): an operator's problem, not the message's; try it later.
    throw new CertificateError(
      `cannot read ${name} in SNS_CERT_DIR: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      false,
    );
  }
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
