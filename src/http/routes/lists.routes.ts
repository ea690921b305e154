import type { FastifyPluginAsync } from 'fastify';
import { billQuerySchema, parseRequest } from '../../domain/requests.ts';
import type { Metrics } from '../../metrics.ts';
import type { ListingService } from '../../services/listing.service.ts';
import { accountOf, authenticate, langOf, ok, type AuthDeps } from '../envelope.ts';
import { API_BASE } from './base.ts';

export const WORKS_LIST_PATH = `${API_BASE}/works/list`;
export const VOICES_LIST_PATH = `${API_BASE}/voice/list`;
export const SPEECH_LIST_PATH = `${API_BASE}/voice/create/list`;

/** Extensions: the account's works, voices and speech, a page at a time (`pn`, `ds` as in seed 5.2). */
export const listsRoutes: FastifyPluginAsync<
  AuthDeps & { listing: ListingService; metrics: Metrics }
> = async (app, deps) => {
  const query = { preHandler: authenticate(deps, { submission: false }) };
  app.get(WORKS_LIST_PATH, query, async (req) => {
    const q = parseRequest(billQuerySchema, req.query);
    return ok(deps.metrics, req, await deps.listing.works(accountOf(req), q.pn, q.ds, langOf(req)));
  });
  app.get(VOICES_LIST_PATH, query, async (req) => {
    const q = parseRequest(billQuerySchema, req.query);
    return ok(deps.metrics, req, await deps.listing.voices(accountOf(req), q.pn, q.ds, langOf(req)));
  });
  app.get(SPEECH_LIST_PATH, query, async (req) => {
    const q = parseRequest(billQuerySchema, req.query);
    return ok(deps.metrics, req, await deps.listing.speeches(accountOf(req), q.pn, q.ds, langOf(req)));
  });
};
