import { spawn, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';

const WORKER_NICENESS = 10;

interface Log {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * `dhs serve`'s worker, as a child process (`dhs worker` with the same environment) instead of on the
 * API's event loop: rendering and synthesis are CPU-bound and partly synchronous (WebAssembly face
 * mesh, espeak, flite), and on the API's thread they would hold /healthz, inspect and lease heartbeats
 * back for as long as each step runs. A child that dies is started again after a backoff; on shutdown
 * it gets SIGTERM and its own grace period.
 */
export class WorkerProcess {
  private child: ChildProcess | null = null;
  private stopping = false;
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private exited: Promise<void> = Promise.resolve();

  constructor(
    private readonly log: Log,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  start(): void {
    if (this.stopping) return;
    const bin = fileURLToPath(new URL('../bin/dhs.mjs', import.meta.url));
    const child = spawn(process.execPath, [bin, 'worker'], {
      // the parent checked the system tools already; logs go to the same stdout and stderr
      env: { ...this.env, DHS_TOOLS_CHECKED: '1' },
      // the IPC channel carries wake-ups (see wake)
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child = child;
    // Below the API in the scheduler's eyes (its ffmpeg children inherit it): on a busy machine the
    // answers to clients come first, the render takes what is left.
    if (child.pid !== undefined) {
      try {
        setPriority(child.pid, WORKER_NICENESS);
      } catch {
        // not permitted here: the worker runs at the API's priority
      }
    }
    const startedAt = Date.now();
    this.log.info({ workerPid: child.pid }, 'worker process started');
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.child = null;
        resolve();
        if (this.stopping) return;
        // a worker that ran for a minute was healthy: the next failure starts the backoff afresh
        if (Date.now() - startedAt > 60_000) this.restarts = 0;
        const delay = Math.min(30_000, 1000 * 2 ** this.restarts++);
        this.log.error({ code, signal, restartInMs: delay }, 'worker process exited; starting another');
        this.restartTimer = setTimeout(() => this.start(), delay);
      });
    });
  }

  /**
   * An item is due: the child looks now instead of at its next poll. SQLite has no way to tell
   * another process, so serve forwards its own submissions here (PostgreSQL workers LISTEN instead).
   */
  wake(): void {
    const child = this.child;
    if (child === null || !child.connected) return;
    // an error means the child is exiting: its successor starts by looking
    child.send('wake', () => undefined);
  }

  /** Signals the worker to stop and waits for it at most `timeoutMs`, then kills it. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (child === null) return;
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => {
      timer = setTimeout(() => r('late'), timeoutMs);
    });
    const outcome = await Promise.race([this.exited.then(() => 'exited' as const), late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      this.log.error({ workerPid: child.pid }, 'worker process did not stop in time: killing it');
      child.kill('SIGKILL');
      await this.exited;
    }
  }
}
