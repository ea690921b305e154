import type { FastifyPluginAsync } from 'fastify';
import { VOICE_TIERS } from '../../domain/voice.ts';
import type { Metrics } from '../../metrics.ts';
import type { VoicesService } from '../../services/voices.service.ts';
import { accountOf, authenticate, langOf, ok, type AuthDeps } from '../envelope.ts';
import { API_BASE } from './base.ts';

/**
 * seed 3 (LITE) and 4 (PRO), the same four endpoints under each tier's path: train a voice, its
 * training's detail, synthesize speech, the synthesis's detail.
 */
export const voicesRoutes: FastifyPluginAsync<
  AuthDeps & { voices: VoicesService; metrics: Metrics }
> = async (app, deps) => {
  const submission = { preHandler: authenticate(deps, { submission: true }) };
  const query = { preHandler: authenticate(deps, { submission: false }) };
  for (const tier of VOICE_TIERS) {
    const base = `${API_BASE}/voice/${tier.toLowerCase()}`;
    app.post(`${base}/train`, submission, async (req) =>
      ok(deps.metrics, req, await deps.voices.train(accountOf(req), tier, req.body)),
    );
    app.post(`${base}/train/detail`, query, async (req) =>
      ok(deps.metrics, req, await deps.voices.trainDetail(accountOf(req), tier, req.body, langOf(req))),
    );
    app.post(`${base}/create`, submission, async (req) =>
      ok(deps.metrics, req, await deps.voices.create(accountOf(req), tier, req.body)),
    );
    app.post(`${base}/create/detail`, query, async (req) =>
      ok(deps.metrics, req, await deps.voices.createDetail(accountOf(req), tier, req.body, langOf(req))),
    );
  }
};
