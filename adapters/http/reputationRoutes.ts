/**
 * `GET /reputation`: the bounce and complaint rates over 24 hours and 7 days, and the state, of
 * the account, each configuration set and each sending identity (domain/reputation.ts). Read
 * from the shared windows on each request, so every replica answers the same.
 */
import type { ReputationReport } from '../../domain/reputation';
import type { HttpRoutes } from './server';
import { shortLived } from './shortLived';

/** Open like `/metrics`: computed at most this often, however often it is asked. */
const REPORT_EVERY_MS = 2000;

export function reputationRoutes(report: () => Promise<ReputationReport>): HttpRoutes {
  const current = shortLived(REPORT_EVERY_MS, () => report());
  return (app) => {
    app.get('/reputation', async (_request, reply) => {
      try {
        return reply.header('cache-control', 'no-store').send(await current(null));
      } catch (error) {
        return reply.code(503).send({
          error: 'reputation unavailable',
          message: error instanceof Error ? error.message : String(error),
        });
      }
    });
  };
}
