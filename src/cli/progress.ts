/**
 * How `--wait` shows a job: on a terminal, one line redrawn in place (a bar, percent, status,
 * elapsed time); otherwise (a pipe, a log, CI) a plain line each time the status or percent changes.
 * Written to stderr, so that stdout carries only the result (or the `--json` line).
 */

export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const STATUS_NAMES: Record<number, string> = { 1: 'queued', 2: 'processing', 3: 'done', 4: 'failed' };

export function statusName(status: number): string {
  return STATUS_NAMES[status] ?? `status ${status}`;
}

const BAR_WIDTH = 24;

export function progressBar(percent: number, width = BAR_WIDTH): string {
  const p = Math.max(0, Math.min(100, Math.round(percent)));
  const filled = Math.round((p / 100) * width);
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

function elapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export class ProgressDisplay {
  private readonly startedAt = Date.now();
  private last = { status: -1, progress: -1 };
  private drawn = false;
  private ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly out: ProgressStream,
    private readonly label: string,
  ) {
    // the elapsed time keeps moving on a terminal while nothing else does
    if (this.out.isTTY) {
      this.ticker = setInterval(() => this.draw(), 1000);
      this.ticker.unref();
    }
  }

  update(status: number, progress: number): void {
    if (status === this.last.status && progress === this.last.progress) return;
    this.last = { status, progress };
    if (this.out.isTTY) this.draw();
    else this.out.write(`${this.label}: ${statusName(status)} ${Math.round(progress)}%\n`);
  }

  /** Ends the redrawn line (a terminal), so that what follows starts on a line of its own. */
  finish(): void {
    clearInterval(this.ticker);
    if (this.out.isTTY && this.drawn) {
      this.draw();
      this.out.write('\n');
    }
    this.drawn = false;
  }

  private draw(): void {
    if (this.last.status < 0) return;
    const { status, progress } = this.last;
    // the id last: on a narrow terminal it is what gets cut
    const line = `${progressBar(progress)} ${String(Math.round(progress)).padStart(3)}%  ${statusName(status)}  ${elapsed(Date.now() - this.startedAt)}  ${this.label}`;
    const width = this.out.columns ?? 100;
    // \r and clear-line: redraw in place, cut to the terminal so it never wraps
    this.out.write(`\r\x1b[2K${line.length > width - 1 ? line.slice(0, width - 1) : line}`);
    this.drawn = true;
  }
}
