import type { FastifyPluginAsync } from 'fastify';
import type { Metrics } from '../../metrics.ts';

/** For operators, not customers: readiness and Prometheus metrics (outside the seed's envelope). */
export const operationsRoutes: FastifyPluginAsync<{
  metrics: Metrics;
  /** Refreshes job/queue gauges before a scrape. */
  collectGauges: () => Promise<void>;
  /** false until start-up finished, and again while shutting down. */
  isReady: () => boolean;
}> = async (app, deps) => {
  app.get('/healthz', async (_req, reply) => {
    if (!deps.isReady()) return reply.status(503).send({ status: 'starting' });
    return { status: 'ok' };
  });
  app.get('/metrics', async (_req, reply) => {
    await deps.collectGauges();
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
};
