import { repeatDigest, type RequestLimits } from '../domain/request-limits.ts';

/**
 * In-process request limits (seed 10002 / 10003). Per key (an account, an access key, a client
 * address): a token bucket of `perMinute` requests refilled continuously. Per (account, endpoint,
 * body): the same submission repeated within `repeatWindowMs` is refused, which also stops a
 * client's double click from charging twice.
 *
 * Memory is bounded whatever clients send: both maps keep their entries in last-use order, so the
 * oldest are dropped first when a map is full (buckets) or their window has passed (repeats), each in
 * constant time per request: no scan of the maps, however many distinct keys arrive.
 */
export class RequestLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly recent = new Map<string, number>();

  constructor(
    /** The injected clock (tests advance it by hand). */
    private readonly clock: { now(): number },
    private readonly perMinute: number,
    private readonly repeatWindowMs: number,
    /** Buckets kept at most; the least recently used is forgotten (it then starts full). */
    private readonly maxKeys = 100_000,
  ) {}

  /** false when the key is over its rate. */
  take(key: string): boolean {
    const now = this.clock.now();
    const b = this.buckets.get(key) ?? { tokens: this.perMinute, at: now };
    b.tokens = Math.min(this.perMinute, b.tokens + (Math.max(0, now - b.at) * this.perMinute) / 60_000);
    b.at = now;
    const allowed = b.tokens >= 1;
    if (allowed) b.tokens -= 1;
    this.buckets.delete(key); // re-inserted: the map's order is last use
    this.buckets.set(key, b);
    if (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next();
      if (!oldest.done) this.buckets.delete(oldest.value);
    }
    return allowed;
  }

  /** false when this exact request was seen within the repeat window. */
  firstInWindow(key: string, route: string, body: unknown): boolean {
    if (this.repeatWindowMs === 0) return true;
    const now = this.clock.now();
    this.forgetRepeatsBefore(now - this.repeatWindowMs);
    const digest = repeatDigest(key, route, body);
    const last = this.recent.get(digest);
    if (last !== undefined && now - last < this.repeatWindowMs) return false;
    this.recent.delete(digest);
    this.recent.set(digest, now);
    return true;
  }

  /** Entries kept now (for tests and metrics). */
  get size(): { buckets: number; repeats: number } {
    return { buckets: this.buckets.size, repeats: this.recent.size };
  }

  /** The repeat map is in time order: drop from the front while entries are out of the window. */
  private forgetRepeatsBefore(cutoff: number): void {
    for (const [digest, at] of this.recent) {
      if (at > cutoff) return;
      this.recent.delete(digest);
    }
  }
}

/**
 * The in-process limits behind the RequestLimits port: one API process (no DHS_REDIS_URL). With
 * several API processes each would count alone; src/repositories/redis-limits.ts shares them.
 */
export class InProcessRequestLimits implements RequestLimits {
  readonly limiter: RequestLimiter;

  constructor(clock: { now(): number }, perMinute: number, repeatWindowMs: number, maxKeys?: number) {
    this.limiter = new RequestLimiter(clock, perMinute, repeatWindowMs, maxKeys);
  }

  async take(key: string): Promise<boolean> {
    return this.limiter.take(key);
  }

  async firstInWindow(key: string, route: string, body: unknown): Promise<boolean> {
    return this.limiter.firstInWindow(key, route, body);
  }
}
