import { createHash } from 'node:crypto';

/**
 * In-process request limits (seed 10002 / 10003). Per account: a token bucket of `perMinute`
 * requests refilled continuously. Per (account, endpoint, body): the same submission repeated within
 * `repeatWindowMs` is refused, which also stops a client's double click from charging twice.
 */
export class RequestLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly recent = new Map<string, number>();

  constructor(
    /** The injected clock (tests advance it by hand). */
    private readonly clock: { now(): number },
    private readonly perMinute: number,
    private readonly repeatWindowMs: number,
  ) {}

  /** false when the account is over its rate. */
  take(key: string): boolean {
    const now = this.clock.now();
    const b = this.buckets.get(key) ?? { tokens: this.perMinute, at: now };
    b.tokens = Math.min(this.perMinute, b.tokens + ((now - b.at) * this.perMinute) / 60_000);
    b.at = now;
    if (b.tokens < 1) {
      this.buckets.set(key, b);
      return false;
    }
    b.tokens -= 1;
    this.buckets.set(key, b);
    this.sweep(now);
    return true;
  }

  /** false when this exact request was seen within the repeat window. */
  firstInWindow(key: string, route: string, body: unknown): boolean {
    if (this.repeatWindowMs === 0) return true;
    const now = this.clock.now();
    const digest = createHash('sha256')
      .update(`${key}\n${route}\n${JSON.stringify(body ?? null)}`)
      .digest('hex');
    const last = this.recent.get(digest);
    if (last !== undefined && now - last < this.repeatWindowMs) return false;
    this.recent.set(digest, now);
    return true;
  }

  /** Keeps memory bounded: forgets full buckets and old repeats once the maps grow. */
  private sweep(now: number): void {
    if (this.buckets.size + this.recent.size < 10_000) return;
    for (const [k, b] of this.buckets) if (now - b.at > 60_000) this.buckets.delete(k);
    for (const [k, at] of this.recent) if (now - at >= this.repeatWindowMs) this.recent.delete(k);
  }
}
