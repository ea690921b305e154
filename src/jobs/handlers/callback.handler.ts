import {
  callbackPayloadSchema,
  callbackRetryDelayMs,
  webhookHeaders,
  type CallbackPayload,
} from '../../domain/callbacks.ts';
import { AppError, ErrorCode } from '../../domain/errors.ts';
import { QueueKind } from '../../domain/jobs.ts';
import { parseStored } from '../../domain/payloads.ts';
import { FetchError } from '../../repositories/fetcher.ts';
import type { JobHandler } from '../worker.ts';
import type { HandlerDeps } from './deps.ts';

/**
 * Callbacks are durable jobs of their own: POST the seed's body, 10 s timeout, no redirects; any 2xx
 * acknowledges; anything else is retried on the schedule in src/domain/callbacks.ts and every attempt is recorded.
 */
export function callbackHandler(deps: HandlerDeps): JobHandler {
  return {
    kind: QueueKind.CALLBACK,
    retryDelayMs: callbackRetryDelayMs,
    async run({ item, signal }) {
      const p = parseStored(callbackPayloadSchema, item.payload, 'callback');
      const account = await deps.accounts.findById(p.accountId);
      if (account === null) return;
      const body = JSON.stringify(await withFreshLinks(deps, p));
      const ts = Math.floor(deps.clock.now() / 1000);
      const started = Date.now();
      let status: number | null = null;
      let error = '';
      try {
        const res = await deps.fetcher.post(
          p.url,
          body,
          webhookHeaders(account.webhook_secret, p.messageId, ts, body),
          { timeoutMs: deps.callbackTimeoutMs, signal },
        );
        status = res.status;
        if (status < 200 || status >= 300) error = `HTTP ${status}: ${res.bodySnippet.slice(0, 200)}`;
      } catch (err) {
        if (signal.aborted) throw err;
        error = err instanceof FetchError ? `${err.kind}: ${err.message}` : String(err);
      }
      await deps.callbacks.record({
        queueId: item.id,
        refId: item.ref_id,
        url: p.url,
        attempt: item.attempts,
        httpStatus: status,
        error,
        durationMs: Date.now() - started,
      });
      if (error !== '')
        throw new AppError(ErrorCode.EXECUTION_FAILED, `callback not acknowledged: ${error}`, {
          retryable: true,
        });
    },
    async giveUp(item, err, log) {
      log.warn({ ref: item.ref_id, attempts: item.attempts, reason: err.detail.en }, 'callback given up');
    },
  };
}

/**
 * The body to send now: with presigned result URLs (they expire) each linked field gets a URL made at
 * this delivery, so a callback retried hours later still links for the URLs' full lifetime; the
 * webhook-id stays the same. Permanent URLs go as they were stored.
 */
async function withFreshLinks(deps: HandlerDeps, p: CallbackPayload): Promise<Record<string, unknown>> {
  if (!deps.resultLinks.expiring || p.links === undefined) return p.body;
  const body = { ...p.body };
  for (const [field, key] of Object.entries(p.links)) body[field] = await deps.resultLinks.url(key);
  return body;
}
