import { write } from 'node:fs';

/**
 * Where the process's JSON log lines go: a file descriptor (stdout), written in the background so a
 * slow or stalled reader never blocks the server, and never at exit.
 *
 * pino's default destination flushes synchronously when the process exits, and its flush retries
 * every failed write (a closed pipe included) forever: a server whose log reader went away could not
 * exit. Here lines queue in memory (bounded: past `maxPendingBytes` the oldest are dropped and
 * counted), one write is in flight at a time on libuv's thread pool, a broken pipe ends logging, and
 * shutdown waits for the queue at most a given time.
 */
export class LogDestination {
  private pending: string[] = [];
  private pendingBytes = 0;
  private writing = false;
  private broken = false;
  private dropped = 0;
  private drained: Array<() => void> = [];

  constructor(
    private readonly fd = 1,
    private readonly maxPendingBytes = 8 * 1024 * 1024,
  ) {}

  /** pino calls this with one serialized line. */
  write(line: string): boolean {
    if (this.broken) return true;
    this.pending.push(line);
    this.pendingBytes += line.length;
    while (this.pendingBytes > this.maxPendingBytes && this.pending.length > 1) {
      this.pendingBytes -= this.pending.shift()?.length ?? 0;
      this.dropped++;
    }
    this.pump();
    return true;
  }

  /** Lines dropped because the reader fell behind by more than the bound. */
  get droppedLines(): number {
    return this.dropped;
  }

  /** Resolves once everything queued is written, the output broke, or `timeoutMs` passed. */
  flush(timeoutMs: number): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.drained = this.drained.filter((f) => f !== done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      timer.unref();
      this.drained.push(done);
    });
  }

  private get idle(): boolean {
    return this.broken || (!this.writing && this.pending.length === 0);
  }

  private pump(): void {
    if (this.writing || this.broken || this.pending.length === 0) return;
    const chunk = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    this.writing = true;
    this.writeAll(Buffer.from(chunk, 'utf8'));
  }

  private writeAll(buf: Buffer): void {
    write(this.fd, buf, 0, buf.length, null, (err, n) => {
      if (err) {
        if (err.code === 'EAGAIN') {
          setTimeout(() => this.writeAll(buf), 10).unref();
          return;
        }
        // EPIPE, EBADF...: nobody reads any more; logging stops, the server does not
        this.broken = true;
        this.pending = [];
        this.pendingBytes = 0;
      } else if (n < buf.length) {
        this.writeAll(buf.subarray(n));
        return;
      }
      this.writing = false;
      if (this.idle) {
        const waiting = this.drained;
        this.drained = [];
        for (const f of waiting) f();
      } else this.pump();
    });
  }
}
