import { timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Metrics } from '../../metrics.ts';

/**
 * For operators, not customers: readiness and Prometheus metrics (outside the seed's envelope).
 * /metrics answers clients on this machine (a local Prometheus or agent), or anyone presenting
 * `Authorization: Bearer <DHS_METRICS_TOKEN>`; others get 404, as for a path that is not there.
 */
export const operationsRoutes: FastifyPluginAsync<{
  metrics: Metrics;
  metricsToken?: string | undefined;
  /** Refreshes job/queue gauges before a scrape (cached: cheap at any scrape rate). */
  collectGauges: () => Promise<void>;
  /** false until start-up finished, and again while shutting down. */
  isReady: () => boolean;
}> = async (app, deps) => {
  app.get('/healthz', async (_req, reply) => {
    if (!deps.isReady()) return reply.status(503).send({ status: 'starting' });
    return { status: 'ok' };
  });
  app.get('/metrics', async (req, reply) => {
    if (!mayScrape(req, deps.metricsToken)) return reply.status(404).send({ error: 'not found' });
    await deps.collectGauges();
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
};

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/;

function mayScrape(req: FastifyRequest, token: string | undefined): boolean {
  const auth = req.headers.authorization;
  if (token !== undefined && typeof auth === 'string' && auth.startsWith('Bearer ')) {
    const given = Buffer.from(auth.slice('Bearer '.length));
    const expected = Buffer.from(token);
    if (given.length === expected.length && timingSafeEqual(given, expected)) return true;
  }
  return LOOPBACK.test(req.socket.remoteAddress ?? '');
}
