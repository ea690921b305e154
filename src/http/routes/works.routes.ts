import type { FastifyPluginAsync } from 'fastify';
import type { Metrics } from '../../metrics.ts';
import type { WorksService } from '../../services/works.service.ts';
import { accountOf, authenticate, langOf, ok, type AuthDeps } from '../envelope.ts';
import { API_BASE } from './base.ts';

/** seed 1.1 create a work, 1.2 inspect it (1.3, its callback, is sent by the worker). */
export const worksRoutes: FastifyPluginAsync<AuthDeps & { works: WorksService; metrics: Metrics }> = async (
  app,
  deps,
) => {
  app.post(
    `${API_BASE}/works/create`,
    { preHandler: authenticate(deps, { submission: true }) },
    async (req) => ok(deps.metrics, req, await deps.works.create(accountOf(req), req.body)),
  );
  app.post(
    `${API_BASE}/works/inspect`,
    { preHandler: authenticate(deps, { submission: false }) },
    async (req) => ok(deps.metrics, req, await deps.works.inspect(accountOf(req), req.body, langOf(req))),
  );
};
