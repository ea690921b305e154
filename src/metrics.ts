import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics (/metrics): jobs by state, queue wait, stage durations, HTTP outcomes. */
export class Metrics {
  readonly registry = new Registry();
  readonly jobs = new Gauge({
    name: 'dhs_jobs',
    help: 'Public jobs by type and status (1 queued, 2 processing, 3 done, 4 failed)',
    labelNames: ['type', 'status'] as const,
    registers: [this.registry],
  });
  readonly queueItems = new Gauge({
    name: 'dhs_queue_items',
    help: 'Queue items by kind and state',
    labelNames: ['kind', 'state'] as const,
    registers: [this.registry],
  });
  readonly queueWait = new Histogram({
    name: 'dhs_queue_wait_seconds',
    help: 'Time from an item being due to a worker taking it',
    labelNames: ['kind'] as const,
    buckets: [0.05, 0.25, 1, 5, 15, 60, 300, 1800],
    registers: [this.registry],
  });
  readonly stageDuration = new Histogram({
    name: 'dhs_stage_duration_seconds',
    help: 'Duration of processing stages',
    labelNames: ['stage'] as const,
    buckets: [0.1, 0.5, 1, 2, 5, 10, 30, 60, 180, 600, 1800],
    registers: [this.registry],
  });
  readonly handlerOutcomes = new Counter({
    name: 'dhs_queue_attempts_total',
    help: 'Queue item attempts by kind and outcome',
    labelNames: ['kind', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly responses = new Counter({
    name: 'dhs_api_responses_total',
    help: 'API responses by route and envelope code',
    labelNames: ['route', 'code'] as const,
    registers: [this.registry],
  });

  readonly avatarPreparations = new Counter({
    name: 'dhs_avatar_preparations_total',
    help: 'Avatar preparations (face track, mouth samples, audio-to-mouth model) by engine and outcome: prepared or cached',
    labelNames: ['engine', 'outcome'] as const,
    registers: [this.registry],
  });

  /** Calls to remote engines (HeyGem, CosyVoice, GPT-SoVITS, fish-speech), by engine and operation. */
  readonly engineRequests = new Counter({
    name: 'dhs_engine_requests_total',
    help: 'Requests to remote engines by engine and operation',
    labelNames: ['engine', 'operation'] as const,
    registers: [this.registry],
  });
  readonly engineErrors = new Counter({
    name: 'dhs_engine_errors_total',
    help: 'Failed requests to remote engines by engine, operation and kind (unreachable, timeout, server, rejected, garbage, failed, config)',
    labelNames: ['engine', 'operation', 'kind'] as const,
    registers: [this.registry],
  });
  readonly engineLatency = new Histogram({
    name: 'dhs_engine_request_duration_seconds',
    help: 'Duration of requests to remote engines (answer and body) by engine and operation',
    labelNames: ['engine', 'operation'] as const,
    buckets: [0.05, 0.25, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });
  /** DHS_ENGINE_FALLBACK=local: jobs the local engine rendered because the remote one was unreachable. */
  readonly engineFallbacks = new Counter({
    name: 'dhs_engine_fallbacks_total',
    help: 'Outputs made by the local engine because a remote engine was unreachable (DHS_ENGINE_FALLBACK=local), by remote engine',
    labelNames: ['engine'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'dhs_' });
  }

  /** Records one finished call to a remote engine (src/engines/remote/engine-http.ts EngineCall). */
  observeEngine(call: { engine: string; operation: string; outcome: string; seconds: number }): void {
    const labels = { engine: call.engine, operation: call.operation };
    this.engineRequests.inc(labels);
    this.engineLatency.observe(labels, call.seconds);
    if (call.outcome !== 'ok') this.engineErrors.inc({ ...labels, kind: call.outcome });
  }

  /** Records one use of the local engine in place of an unreachable remote one (engines/remote/fallback.ts). */
  observeFallback(event: { engine: string }): void {
    this.engineFallbacks.inc({ engine: event.engine });
  }

  /** Times a stage; the returned function ends it. */
  startStage(stage: string): () => void {
    return this.stageDuration.startTimer({ stage });
  }
}
