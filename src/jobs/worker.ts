import type { FastifyBaseLogger } from 'fastify';
import { AppError, ErrorCode, internalDetail, isAppError, processingFailed } from '../domain/errors.ts';
import { jobRetryDelayMs, QueueKind } from '../domain/jobs.ts';
import type { Metrics } from '../metrics.ts';
import type { Clock } from '../repositories/clock.ts';
import type { QueueItem, QueueRepository } from '../repositories/queue.repository.ts';

export type Logger = Pick<FastifyBaseLogger, 'info' | 'warn' | 'error' | 'debug'>;

export interface HandlerContext {
  item: QueueItem;
  /** Aborted on job timeout, lost lease or shutdown: stop and throw. */
  signal: AbortSignal;
  log: Logger;
}

/**
 * One handler per queue kind. Handlers are idempotent: an item can run again after a crash, so every
 * external effect (charge, output file, callback) is keyed by the job and guarded by its state.
 */
export interface JobHandler {
  readonly kind: string;
  run(ctx: HandlerContext): Promise<void>;
  /** Delay before the next try after a retryable failure; `attempt` is the number of tries made. */
  retryDelayMs?(attempt: number): number;
  /** Called once when the item will not be tried again (permanent error, or attempts used up). */
  giveUp(item: QueueItem, err: AppError, log: Logger): Promise<void>;
}

export interface WorkerOptions {
  queue: QueueRepository;
  handlers: JobHandler[];
  clock: Clock;
  metrics: Metrics;
  log: Logger;
  workerId: string;
  concurrency: number;
  leaseMs: number;
  pollIntervalMs: number;
  jobTimeoutMs: number;
}

type AbortReason = 'timeout' | 'lease' | 'shutdown';

/**
 * Takes items from the durable queue and runs their handlers, `concurrency` at a time. Holds each
 * item's lease with a heartbeat; on SIGTERM stops taking items, lets running ones finish within the
 * grace period, then aborts them and hands their items back to the queue.
 */
export class Worker {
  private readonly handlers: Map<string, JobHandler>;
  private running = false;
  private stopping = false;
  private readonly inFlight = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private slots: Promise<void>[] = [];
  private wakers: Array<() => void> = [];
  /** Stops the wake-ups of queue.listen (resolves once listening, or given up to polling). */
  private unlisten: Promise<() => Promise<void>> = Promise.resolve(async () => undefined);

  constructor(private readonly o: WorkerOptions) {
    this.handlers = new Map(o.handlers.map((h) => [h.kind, h]));
  }

  start(): void {
    if (this.running || this.o.concurrency === 0) return;
    this.running = true;
    const kinds = [...this.handlers.keys()];
    for (let i = 0; i < this.o.concurrency; i++) this.slots.push(this.loop(kinds));
    // The callbacks' own lane: one more slot that takes callbacks only, so a notification never waits
    // for running renders to end (every other slot may be busy for minutes). A callback is one POST
    // with a 10 s timeout, so the extra slot costs little. (The claim order puts them first too.)
    if (this.handlers.has(QueueKind.CALLBACK)) this.slots.push(this.loop([QueueKind.CALLBACK]));
    // Woken when an item is due (this process's enqueues; every process's on PostgreSQL), so a
    // submission starts within milliseconds; the poll every pollIntervalMs stays as the fallback.
    this.unlisten = this.o.queue
      .listen(
        () => this.wake(),
        (err) => this.o.log.warn({ err }, 'queue listener trouble: polling until it is back'),
      )
      .catch((err: unknown) => {
        this.o.log.warn({ err }, 'queue listener failed: polling only');
        return async () => undefined;
      });
    this.o.log.info({ workerId: this.o.workerId, concurrency: this.o.concurrency }, 'worker started');
  }

  /** New work was enqueued (here, or in another process): look now instead of at the next poll. */
  wake(): void {
    const w = this.wakers;
    this.wakers = [];
    for (const f of w) f();
  }

  /** Resolves once the wake-ups of start() are set up (or given up for polling alone). */
  async listening(): Promise<void> {
    await this.unlisten;
  }

  get activeCount(): number {
    return this.inFlight.size;
  }

  async stop(graceMs: number): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    this.wake();
    await (await this.unlisten)().catch(() => undefined);
    const all = () => Promise.all([...this.inFlight.values()].map((f) => f.done));
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'grace'>((res) => {
      timer = setTimeout(() => res('grace'), graceMs);
    });
    const outcome = await Promise.race([all().then(() => 'done' as const), graceOver]);
    clearTimeout(timer);
    if (outcome === 'grace') {
      this.o.log.warn(
        { items: this.inFlight.size },
        'grace period over: handing running items back to the queue',
      );
      for (const f of this.inFlight.values()) f.controller.abort('shutdown' satisfies AbortReason);
      await all();
    }
    await Promise.all(this.slots);
    this.running = false;
    this.o.log.info({ workerId: this.o.workerId }, 'worker stopped');
  }

  private async loop(kinds: readonly string[]): Promise<void> {
    while (!this.stopping) {
      let item: QueueItem | null = null;
      try {
        item = await this.o.queue.claim(this.o.workerId, this.o.leaseMs, kinds);
      } catch (err) {
        this.o.log.error({ err }, 'queue claim failed');
      }
      if (item === null) {
        await this.idle();
        continue;
      }
      const controller = new AbortController();
      const done = this.runItem(item, controller);
      this.inFlight.set(item.id, { controller, done });
      await done;
      this.inFlight.delete(item.id);
    }
  }

  private idle(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.o.pollIntervalMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakers.push(done);
    });
  }

  private async runItem(item: QueueItem, controller: AbortController): Promise<void> {
    const { queue, workerId, log: baseLog } = this.o;
    const log =
      (baseLog as FastifyBaseLogger).child?.({ queueId: item.id, kind: item.kind, ref: item.ref_id }) ??
      baseLog;
    const handler = this.handlers.get(item.kind);
    this.o.metrics.queueWait.observe(
      { kind: item.kind },
      Math.max(0, this.o.clock.now() - item.run_at) / 1000,
    );
    if (handler === undefined) {
      await queue.fail(item.id, workerId, `no handler for kind ${item.kind}`);
      return;
    }
    if (item.attempts > item.max_attempts) {
      // Taken again after crashes more often than allowed: stop here rather than loop forever.
      const err = new AppError(ErrorCode.INTERNAL_STAGE, `gave up after ${item.max_attempts} attempts`);
      await this.giveUp(handler, item, err, log);
      return;
    }
    const timeout = setTimeout(() => controller.abort('timeout' satisfies AbortReason), this.o.jobTimeoutMs);
    const heartbeat = setInterval(
      () => {
        queue
          .heartbeat(item.id, workerId, this.o.leaseMs)
          .then((owned) => {
            if (!owned) controller.abort('lease' satisfies AbortReason);
          })
          .catch((err: unknown) => log.warn({ err }, 'heartbeat failed'));
      },
      Math.max(250, Math.floor(this.o.leaseMs / 3)),
    );
    try {
      await handler.run({ item, signal: controller.signal, log });
      await queue.complete(item.id, workerId);
      this.o.metrics.handlerOutcomes.inc({ kind: item.kind, outcome: 'done' });
    } catch (caught) {
      const reason = controller.signal.aborted ? (controller.signal.reason as AbortReason) : null;
      if (reason === 'shutdown') {
        await queue.release(item.id, workerId).catch(() => undefined);
        this.o.metrics.handlerOutcomes.inc({ kind: item.kind, outcome: 'released' });
        return;
      }
      if (reason === 'lease') {
        log.warn('lease lost: another worker has this item');
        return;
      }
      const err =
        reason === 'timeout'
          ? new AppError(ErrorCode.INTERNAL_STAGE, `timed out after ${this.o.jobTimeoutMs} ms`)
          : toAppError(caught, item.ref_id);
      // The detail of an unplanned failure (an error of no seed code, or one an AppError carries as its
      // cause) is told here, with the item's ref, and in the queue's record; never to the customer.
      if (reason === null && (!isAppError(caught) || internalDetail(caught) !== '')) {
        const inner = isAppError(caught) ? caught.cause : caught;
        // `detail`, not `msg`: pino's own message key would appear twice in the line
        log.error({ err: inner, code: err.code, detail: err.detail.en }, 'handler failed unexpectedly');
      }
      if (err.retryable && item.attempts < item.max_attempts) {
        const delay = handler.retryDelayMs?.(item.attempts) ?? jobRetryDelayMs(item.attempts);
        log.warn(
          { code: err.code, detail: err.detail.en, attempt: item.attempts, retryInMs: delay },
          'retrying later',
        );
        await queue.retry(item.id, workerId, delay, operatorRecord(err));
        this.o.metrics.handlerOutcomes.inc({ kind: item.kind, outcome: 'retry' });
      } else {
        await this.giveUp(handler, item, err, log);
      }
    } finally {
      clearTimeout(timeout);
      clearInterval(heartbeat);
    }
  }

  private async giveUp(handler: JobHandler, item: QueueItem, err: AppError, log: Logger): Promise<void> {
    try {
      // Still ours? A worker whose lease ran out before its heartbeat noticed (its event loop held by a
      // long synchronous step, the process paused) may fail only because the worker that took the item
      // over cleared its files; it must not end a job another worker is running (a failure callback,
      // points returned, then a success). Renewing the lease also keeps it ours while giving up.
      if (!(await this.o.queue.heartbeat(item.id, this.o.workerId, this.o.leaseMs))) {
        log.warn({ code: err.code }, 'lease lost before giving up: another worker has this item');
        this.o.metrics.handlerOutcomes.inc({ kind: item.kind, outcome: 'lease_lost' });
        return;
      }
      await handler.giveUp(item, err, log);
      await this.o.queue.fail(item.id, this.o.workerId, `${err.code}: ${operatorRecord(err)}`);
      this.o.metrics.handlerOutcomes.inc({ kind: item.kind, outcome: 'failed' });
    } catch (e) {
      // Leave the lease to expire: the item is taken again and giveUp retried.
      log.error({ err: e }, 'giving up failed; the item will be taken again');
    }
  }
}

/**
 * Unexpected errors are internal-stage failures and worth a retry. Their own message (ffmpeg's stderr,
 * file paths) is not the customer's to read: the AppError says in words that processing failed, with
 * `ref` (the job's or voice's id) to quote; the message stays in the cause, for the log.
 */
export function toAppError(err: unknown, ref = ''): AppError {
  if (isAppError(err)) return err;
  return new AppError(ErrorCode.INTERNAL_STAGE, processingFailed(ref), { retryable: true, cause: err });
}

/** The queue's record of a failure (operators only): the customer's wording plus the internal detail. */
function operatorRecord(err: AppError): string {
  const detail = internalDetail(err);
  return detail === '' ? err.detail.en : `${err.detail.en} [${detail}]`;
}
