import type { FastifyPluginAsync } from 'fastify';
import { billQuerySchema, parseRequest } from '../../domain/requests.ts';
import type { Metrics } from '../../metrics.ts';
import type { UserService } from '../../services/user.service.ts';
import { accountOf, authenticate, ok, type AuthDeps } from '../envelope.ts';
import { API_BASE } from './base.ts';

/** seed 5.1 balance and quotas, 5.2 bills. */
export const userRoutes: FastifyPluginAsync<AuthDeps & { user: UserService; metrics: Metrics }> = async (
  app,
  deps,
) => {
  const query = { preHandler: authenticate(deps, { submission: false }) };
  app.get(`${API_BASE}/user/balance`, query, async (req) =>
    ok(deps.metrics, req, deps.user.balance(accountOf(req))),
  );
  app.get(`${API_BASE}/user/bill/list`, query, async (req) => {
    const q = parseRequest(billQuerySchema, req.query);
    return ok(deps.metrics, req, await deps.user.bills(accountOf(req), q.pn, q.ds));
  });
};
