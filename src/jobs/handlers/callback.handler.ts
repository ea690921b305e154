import { createHmac } from 'node:crypto';
import { AppError, ErrorCode } from '../../domain/errors.ts';
import { CALLBACK_RETRY_DELAYS_MS, QueueKind } from '../../domain/jobs.ts';
import { FetchError } from '../../repositories/fetcher.ts';
import type { JobHandler } from '../worker.ts';
import type { HandlerDeps } from './deps.ts';

interface CallbackPayload {
  url: string;
  body: Record<string, unknown>;
  accountId: string;
  /** Stable across retries (webhook-id): receivers de-duplicate on it. */
  messageId: string;
}

/**
 * Standard Webhooks signature: base64 HMAC-SHA256 over `id.timestamp.body`, keyed with the secret's
 * bytes (the base64 part after `whsec_`). Header value `v1,<signature>`.
 */
export function signWebhook(secret: string, id: string, timestampSec: number, body: string): string {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSec}.${body}`).digest('base64')}`;
}

/**
 * Callbacks are durable jobs of their own: POST the seed's body, 10 s timeout, no redirects; any 2xx
 * acknowledges; anything else is retried on CALLBACK_RETRY_DELAYS_MS and every attempt is recorded.
 */
export function callbackHandler(deps: HandlerDeps): JobHandler {
  return {
    kind: QueueKind.CALLBACK,
    retryDelayMs: (attempt) =>
      CALLBACK_RETRY_DELAYS_MS[attempt - 1] ?? CALLBACK_RETRY_DELAYS_MS.at(-1) ?? 60_000,
    async run({ item, signal }) {
      const p = JSON.parse(item.payload) as CallbackPayload;
      const account = await deps.accounts.findById(p.accountId);
      if (account === null) return;
      const body = JSON.stringify(p.body);
      const ts = Math.floor(deps.clock.now() / 1000);
      const started = Date.now();
      let status: number | null = null;
      let error = '';
      try {
        const res = await deps.fetcher.post(
          p.url,
          body,
          {
            'content-type': 'application/json',
            'webhook-id': p.messageId,
            'webhook-timestamp': String(ts),
            'webhook-signature': signWebhook(account.webhook_secret, p.messageId, ts, body),
          },
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
