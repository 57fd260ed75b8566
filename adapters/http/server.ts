/**
 * The worker's HTTP port: health, readiness and Prometheus metrics, plus the routes each feature
 * registers (suppression API, status page) — passed in as `routes` so this file stays generic.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export interface ReadinessReport {
  readonly ready: boolean;
  /** Each dependency's state, e.g. `{ redis: 'ok', sqs: 'unreachable: …' }`. */
  readonly checks: Readonly<Record<string, string>>;
}

/**
 * The longest path parameter (as sent, percent-encoded) before a 414. Fastify's default, 100, is
 * shorter than an address may be: 320 characters, at most 9 each percent-encoded (2,880).
 */
export const MAX_PARAM_LENGTH = 4096;

export interface HttpServerOptions {
  readonly port: number;
  readonly host?: string;
  readonly registry: Registry;
  readonly readiness: () => Promise<ReadinessReport>;
  /** Feature routes, registered before the server listens. */
  readonly routes?: readonly HttpRoutes[];
}

/** Registers one feature's routes on the worker's HTTP server. */
export type HttpRoutes = (app: FastifyInstance) => void;

export interface HttpServer {
  readonly app: FastifyInstance;
  /** The port actually bound (HTTP_PORT=0 picks a free one). */
  readonly port: number;
  close(): Promise<void>;
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const app = Fastify({ logger: false, routerOptions: { maxParamLength: MAX_PARAM_LENGTH } });

  app.get('/healthz', () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const report = await options.readiness();
    return reply.code(report.ready ? 200 : 503).send(report);
  });
  app.get('/metrics', async (_request, reply) => {
    const text = await options.registry.metrics();
    return reply.type(options.registry.contentType).send(text);
  });

  for (const register of options.routes ?? []) register(app);

  await app.listen({ port: options.port, host: options.host ?? '0.0.0.0' });
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return { app, port, close: () => app.close() };
}
