/**
 * A small SESv2 server for the account-level suppression list, speaking the REST-JSON protocol
 * the real `@aws-sdk/client-sesv2` speaks (point it here with AWS_ENDPOINT_URL_SESV2):
 *
 *   PUT    /v2/email/suppression/addresses            {EmailAddress, Reason} → 200 {}
 *   GET    /v2/email/suppression/addresses/{address}  → 200 {SuppressedDestination} | 404
 *   DELETE /v2/email/suppression/addresses/{address}  → 200 {} | 404
 *   GET    /v2/email/suppression/addresses?StartDate&EndDate&NextToken&PageSize&Reason
 *          → 200 {SuppressedDestinationSummaries, NextToken?}
 *   POST   /v2/email/import-jobs                      → 200 {JobId}; reads the CSV from S3
 *   GET    /v2/email/import-jobs/{JobId}              → 200 {JobStatus, ProcessedRecordsCount, …}
 *
 * Errors as SESv2 sends them: the status, `x-amzn-ErrorType: <Name>` and `{"message": …}`
 * (NotFoundException 404, BadRequestException 400, InvalidNextTokenException 400,
 * TooManyRequestsException 429). Timestamps go out as epoch seconds, as REST-JSON encodes them.
 *
 * For tests it also throttles a share of requests, goes down (drops connections) for a while,
 * and logs every request with its arrival time.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FakeReason = 'BOUNCE' | 'COMPLAINT';

export interface FakeEntry {
  readonly reason: FakeReason;
  /** ms */
  readonly lastUpdateTime: number;
}

export interface FakeRequest {
  /** ms, on arrival */
  readonly at: number;
  readonly operation: string;
  readonly status: number | 'dropped';
  readonly address?: string;
}

export interface FakeImportJob {
  readonly id: string;
  status: 'CREATED' | 'PROCESSING' | 'COMPLETED' | 'FAILED';
  processed: number;
  failed: number;
  failure: string | null;
  readonly created: number;
  completed: number | null;
}

export interface SesV2Fake {
  readonly endpoint: string;
  readonly entries: Map<string, FakeEntry>;
  readonly requests: FakeRequest[];
  /** Successful puts per address. */
  readonly puts: Map<string, number>;
  readonly importJobs: FakeImportJob[];
  /** Answer 429 to this share of requests (0–1), decided by a seeded sequence. */
  throttle(fraction: number): void;
  /** Drop every connection for `ms` from now. */
  goDown(ms: number): void;
  /** After this many list pages, drop the connection (an interrupted pull); null: never. */
  failListAfterPages(pages: number | null): void;
  /** Answer puts of addresses matching this with 400 BadRequestException; null: none. */
  rejectPuts(pattern: RegExp | null): void;
  stop(): Promise<void>;
}

const JSON_TYPE = 'application/json';

export async function startSesV2Fake(
  options: { s3?: S3Client; pageDelayMs?: number } = {},
): Promise<SesV2Fake> {
  const entries = new Map<string, FakeEntry>();
  const requests: FakeRequest[] = [];
  const puts = new Map<string, number>();
  const importJobs: FakeImportJob[] = [];
  let throttleFraction = 0;
  let downUntil = 0;
  let listPagesLeft: number | null = null;
  let rejected: RegExp | null = null;
  // A fixed sequence, so a run's throttling can be replayed: a 32-bit LCG.
  let seed = 0x5e5;
  const random = () => {
    seed = (Math.imul(seed, 1_664_525) + 1_013_904_223) >>> 0;
    return seed / 2 ** 32;
  };
  const sockets = new Set<Socket>();

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': JSON_TYPE });
    res.end(JSON.stringify(body));
  };
  const error = (res: ServerResponse, status: number, name: string, message: string) => {
    res.writeHead(status, { 'content-type': JSON_TYPE, 'x-amzn-errortype': name });
    res.end(JSON.stringify({ message }));
  };
  const seconds = (ms: number) => ms / 1000;

  const readBody = async (req: IncomingMessage): Promise<unknown> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    return text === '' ? {} : (JSON.parse(text) as unknown);
  };

  const runImport = async (job: FakeImportJob, s3Url: string) => {
    const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(s3Url);
    if (match === null || options.s3 === undefined) {
      job.status = 'FAILED';
      job.failure = 'S3Url is not s3://bucket/key, or no S3 to read it from';
      return;
    }
    job.status = 'PROCESSING';
    try {
      const object = await options.s3.send(
        new GetObjectCommand({ Bucket: match[1], Key: decodeURIComponent(match[2]!) }),
      );
      const text = await object.Body!.transformToString('utf8');
      for (const line of text.split(/\r?\n/)) {
        if (line.trim() === '') continue;
        const [address, reason] = line.split(',').map((field) => field.trim());
        if (address === undefined || !address.includes('@') || !isReason(reason)) {
          job.failed++;
          continue;
        }
        entries.set(address.toLowerCase(), { reason, lastUpdateTime: Date.now() });
        job.processed++;
      }
      job.status = 'COMPLETED';
      job.completed = Date.now();
    } catch (e) {
      job.status = 'FAILED';
      job.failure = (e as Error).message;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const addressPath = /^\/v2\/email\/suppression\/addresses\/([^/]+)$/.exec(path);
    const operation =
      path === '/v2/email/suppression/addresses'
        ? method === 'PUT'
          ? 'PutSuppressedDestination'
          : 'ListSuppressedDestinations'
        : addressPath !== null
          ? method === 'DELETE'
            ? 'DeleteSuppressedDestination'
            : 'GetSuppressedDestination'
          : path === '/v2/email/import-jobs'
            ? 'CreateImportJob'
            : path.startsWith('/v2/email/import-jobs/')
              ? 'GetImportJob'
              : 'Unknown';
    const at = Date.now();
    const address = addressPath === null ? undefined : decodeURIComponent(addressPath[1]!);
    const log = (status: number | 'dropped', about?: string) =>
      requests.push({
        at,
        operation,
        status,
        ...((about ?? address) ? { address: (about ?? address)!.toLowerCase() } : {}),
      });

    if (at < downUntil) {
      log('dropped');
      req.socket.destroy();
      return;
    }
    if (operation === 'ListSuppressedDestinations' && listPagesLeft !== null) {
      if (listPagesLeft === 0) {
        log('dropped');
        req.socket.destroy();
        return;
      }
      listPagesLeft--;
    }
    if (throttleFraction > 0 && random() < throttleFraction) {
      log(429);
      return error(res, 429, 'TooManyRequestsException', 'Too many requests');
    }

    switch (operation) {
      case 'PutSuppressedDestination': {
        const body = (await readBody(req)) as { EmailAddress?: string; Reason?: string };
        if (typeof body.EmailAddress !== 'string' || !isReason(body.Reason)) {
          log(400, body.EmailAddress);
          return error(res, 400, 'BadRequestException', 'EmailAddress and Reason are required');
        }
        const key = body.EmailAddress.toLowerCase();
        if (rejected?.test(key)) {
          log(400, key);
          return error(res, 400, 'BadRequestException', 'this address is refused');
        }
        entries.set(key, { reason: body.Reason, lastUpdateTime: Date.now() });
        puts.set(key, (puts.get(key) ?? 0) + 1);
        log(200, key);
        return send(res, 200, {});
      }
      case 'GetSuppressedDestination': {
        const entry = entries.get(address!.toLowerCase());
        if (entry === undefined) {
          log(404);
          return error(res, 404, 'NotFoundException', `${address} is not on the suppression list`);
        }
        log(200);
        return send(res, 200, {
          SuppressedDestination: {
            EmailAddress: address!.toLowerCase(),
            Reason: entry.reason,
            LastUpdateTime: seconds(entry.lastUpdateTime),
            Attributes: {},
          },
        });
      }
      case 'DeleteSuppressedDestination': {
        const deleted = entries.delete(address!.toLowerCase());
        log(deleted ? 200 : 404);
        return deleted
          ? send(res, 200, {})
          : error(res, 404, 'NotFoundException', `${address} is not on the suppression list`);
      }
      case 'ListSuppressedDestinations': {
        const pageSize = Number(url.searchParams.get('PageSize') ?? '1000');
        if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
          log(400);
          return error(res, 400, 'BadRequestException', 'PageSize must be from 1 to 1000');
        }
        const start = parseTime(url.searchParams.get('StartDate'));
        const end = parseTime(url.searchParams.get('EndDate'));
        const reasons = url.searchParams.getAll('Reason');
        const token = url.searchParams.get('NextToken');
        let offset = 0;
        if (token !== null) {
          const decoded = decodeToken(token);
          if (decoded === null) {
            log(400);
            return error(res, 400, 'InvalidNextTokenException', 'The NextToken is not valid');
          }
          offset = decoded;
        }
        // Sorted by address: pages stay stable while entries are added elsewhere in time.
        const matching = [...entries]
          .filter(
            ([, e]) =>
              (start === null || e.lastUpdateTime >= start) &&
              (end === null || e.lastUpdateTime < end) &&
              (reasons.length === 0 || reasons.includes(e.reason)),
          )
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        const page = matching.slice(offset, offset + pageSize);
        if (options.pageDelayMs) await new Promise((r) => setTimeout(r, options.pageDelayMs));
        log(200);
        return send(res, 200, {
          SuppressedDestinationSummaries: page.map(([emailAddress, e]) => ({
            EmailAddress: emailAddress,
            Reason: e.reason,
            LastUpdateTime: seconds(e.lastUpdateTime),
          })),
          ...(offset + pageSize < matching.length
            ? { NextToken: encodeToken(offset + pageSize) }
            : {}),
        });
      }
      case 'CreateImportJob': {
        const body = (await readBody(req)) as {
          ImportDestination?: {
            SuppressionListDestination?: { SuppressionListImportAction?: string };
          };
          ImportDataSource?: { S3Url?: string; DataFormat?: string };
        };
        const action =
          body.ImportDestination?.SuppressionListDestination?.SuppressionListImportAction;
        const source = body.ImportDataSource;
        if (action !== 'PUT' || source?.S3Url === undefined || source.DataFormat !== 'CSV') {
          log(400);
          return error(res, 400, 'BadRequestException', 'a PUT import of a CSV from S3 only');
        }
        const job: FakeImportJob = {
          id: `import-${importJobs.length + 1}`,
          status: 'CREATED',
          processed: 0,
          failed: 0,
          failure: null,
          created: Date.now(),
          completed: null,
        };
        importJobs.push(job);
        void runImport(job, source.S3Url);
        log(200);
        return send(res, 200, { JobId: job.id });
      }
      case 'GetImportJob': {
        const id = decodeURIComponent(path.slice('/v2/email/import-jobs/'.length));
        const job = importJobs.find((j) => j.id === id);
        if (job === undefined) {
          log(404);
          return error(res, 404, 'NotFoundException', `no import job ${id}`);
        }
        log(200);
        return send(res, 200, {
          JobId: job.id,
          JobStatus: job.status,
          ImportDestination: {
            SuppressionListDestination: { SuppressionListImportAction: 'PUT' },
          },
          CreatedTimestamp: seconds(job.created),
          ...(job.completed === null ? {} : { CompletedTimestamp: seconds(job.completed) }),
          ProcessedRecordsCount: job.processed,
          FailedRecordsCount: job.failed,
          ...(job.failure === null ? {} : { FailureInfo: { ErrorMessage: job.failure } }),
        });
      }
      case 'Unknown':
        log(404);
        return error(res, 404, 'UnknownOperationException', `no route ${method} ${path}`);
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: Error) => {
      if (!res.headersSent) error(res, 500, 'InternalFailure', e.message);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    entries,
    requests,
    puts,
    importJobs,
    throttle(fraction) {
      throttleFraction = fraction;
    },
    goDown(ms) {
      downUntil = Date.now() + ms;
      for (const socket of sockets) socket.destroy();
    },
    failListAfterPages(pages) {
      listPagesLeft = pages;
    },
    rejectPuts(pattern) {
      rejected = pattern;
    },
    stop: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const isReason = (text: unknown): text is FakeReason => text === 'BOUNCE' || text === 'COMPLAINT';

/** Query timestamps: ISO 8601 (what the SDK sends) or epoch seconds. */
function parseTime(raw: string | null): number | null {
  if (raw === null || raw === '') return null;
  if (/^\d+(\.\d+)?$/.test(raw)) return Number(raw) * 1000;
  const ms = Date.parse(raw);
  return Number.isNaN(ms) ? null : ms;
}

const encodeToken = (offset: number) =>
  Buffer.from(JSON.stringify({ v: 1, offset })).toString('base64url');

function decodeToken(token: string): number | null {
  try {
    const decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
      v?: number;
      offset?: number;
    };
    return decoded.v === 1 && Number.isInteger(decoded.offset) ? decoded.offset! : null;
  } catch {
    return null;
  }
}
