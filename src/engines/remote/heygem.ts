/**
 * Lip-sync on a HeyGem / Duix.Avatar face2face server (the `guiji2025/heygem.ai` / `guiji2025/duix.avatar`
 * image, `python /code/app_local.py`, port 8383). Its HTTP API and quirks, read from its source
 * (docs/engines.md cites the files):
 *
 * - `POST /easy/submit {audio_url, video_url, code, watermark_switch, digital_auth, chaofen, pn}` answers
 *   `{code: 10000}` when it took the task, `10001` (busy) while another task runs (it runs one at a time),
 *   `10002` for a missing parameter, `10003` when its lock failed, `9999` for anything else.
 * - `GET /easy/query?code=` answers `{code: 10000, data: {status 1 running / 2 done / 3 failed, progress,
 *   result, msg}}`; after the first answer with status 2 or 3 it forgets the task, and later queries get
 *   `10004` (task does not exist). A restarted server has forgotten everything the same way.
 * - The Flask app runs unthreaded beside the render, so a query can hang while it renders.
 * - `audio_url` / `video_url` are paths inside the container (or http URLs it downloads itself); the
 *   result is a container path, `/code/data/temp/<code>-r.mp4` (older builds: relative to `temp/`).
 *
 * What this adapter does with them: inputs are copied into the shared data directory
 * (`DHS_HEYGEM_DATA_DIR`, the host side of the container's `/code/data`) and passed as container
 * paths; a busy server is waited out and the task resubmitted, inside the same attempt (the job's
 * attempts are not spent on someone else's render); every query has its own timeout and is retried
 * until the server has been silent for `stallMs`; the final answer is read exactly once and acted on
 * at once; the task code is derived from the job's work directory, so an attempt that follows a crash
 * finds its task still running (or its result on disk) instead of rendering again; the result is mapped
 * back to the host, remuxed into `outFile` (+faststart), and every file of the task is removed.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, rm, stat } from 'node:fs/promises';
import { basename, join, posix, resolve, sep } from 'node:path';
import { t } from '../../domain/errors.ts';
import type { MediaTool } from '../../repositories/media.ts';
import { AAC_ARGS, MP4_OUTPUT_ARGS, X264_ARGS } from '../lipsync/frame-io.ts';
import type { LipSyncEngine, LipSyncInput } from '../ports.ts';
import { EngineError, EngineHttp, quote, type EngineObserver } from './engine-http.ts';
import { timerSleep, type Sleep } from './wait.ts';

export const HEYGEM = 'HeyGem';

/** face2face's answer codes (app.py `ResponseCode`). */
export const HeyGemCode = {
  SYSTEM_ERROR: 9999,
  SUCCESS: 10000,
  BUSY: 10001,
  BAD_PARAMETER: 10002,
  LOCK_FAILED: 10003,
  NO_SUCH_TASK: 10004,
} as const;

/** Task status inside a 10000 query answer (trans_dh_service.py `Status`). */
export const HeyGemStatus = { RUNNING: 1, DONE: 2, FAILED: 3 } as const;

export interface HeyGemOptions {
  /** e.g. http://gpu-host:8383 */
  url: string;
  /** Host directory mounted as the container's data directory (`-v <dataDir>:/code/data`). */
  dataDir: string;
  /** That directory inside the container (default /code/data). */
  containerDataDir?: string;
  /** Limit of each HTTP request, ms (a query may hang while the server renders). */
  requestTimeoutMs: number;
  /** Between queries, and between submits while the server is busy, ms. */
  pollMs: number;
  /** How long the server may go without answering before this attempt gives up (retryable), ms. */
  stallMs: number;
  media: MediaTool;
  observer?: EngineObserver;
  sleep?: Sleep;
  now?: () => number;
}

/** One parsed face2face answer. */
export interface HeyGemAnswer {
  code: number;
  msg: string;
  data: {
    status?: number;
    progress?: number;
    result?: string;
    msg?: string;
  };
}

/** Parses a face2face answer (JSON served as text/html by Flask); throws `garbage` when it is not one. */
export function parseAnswer(http: EngineHttp, text: string): HeyGemAnswer {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw http.garbage(`"${text.slice(0, 80)}" is not JSON`, err);
  }
  if (v === null || typeof v !== 'object' || typeof (v as { code?: unknown }).code !== 'number') {
    throw http.garbage(`${text.slice(0, 80)} has no numeric "code"`);
  }
  const o = v as { code: number; msg?: unknown; data?: unknown };
  const raw = o.data !== null && typeof o.data === 'object' ? (o.data as Record<string, unknown>) : {};
  const num = (x: unknown): number | undefined => {
    const n = typeof x === 'string' && x.trim() !== '' ? Number(x) : x;
    return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
  };
  const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);
  const data: HeyGemAnswer['data'] = {};
  const status = num(raw.status);
  const progress = num(raw.progress);
  const result = str(raw.result);
  const msg = str(raw.msg);
  if (status !== undefined) data.status = status;
  if (progress !== undefined) data.progress = progress;
  if (result !== undefined) data.result = result;
  if (msg !== undefined) data.msg = msg;
  return { code: o.code, msg: typeof o.msg === 'string' ? o.msg : String(o.msg ?? ''), data };
}

/**
 * The task code for a work directory: the same for every attempt of one queue item (whose id names
 * the directory), so an attempt after a crash reattaches to its task. UUID-shaped, as the server's own
 * client makes them.
 */
export function taskCode(workDir: string): string {
  const h = createHash('sha256')
    .update(`dhs-heygem:${basename(resolve(workDir))}`)
    .digest('hex');
  const variant = (8 | (parseInt(h[16] ?? '0', 16) & 3)).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Where a result path the server gave may be on this host, most likely first: a container path under
 * the data directory maps to the same place under `dataDir`; a relative one (older builds) is taken
 * relative to `temp/` (where the server's own client looks), then to the data directory itself.
 * Throws (permanent) for paths that cannot be on the shared volume or that climb out of it.
 */
export function resultCandidates(
  http: EngineHttp,
  result: string,
  dataDir: string,
  containerDataDir: string,
): string[] {
  const raw = result.trim().replace(/\\/g, '/');
  if (raw === '') throw http.garbage('a finished task without a result path');
  if (/^[a-z]+:\/\//i.test(raw)) throw http.garbage(`a result URL (${raw}) instead of a path`);
  const container = posix.normalize(containerDataDir).replace(/\/+$/, '');
  const normalized = posix.normalize(raw);
  let rels: string[];
  if (posix.isAbsolute(normalized)) {
    if (!normalized.startsWith(`${container}/`)) {
      throw http.error(
        'config',
        t(
          `HeyGem（${http.host}）的结果 ${quote(raw)} 不在共享目录 ${container} 下，无法取回（检查 DHS_HEYGEM_CONTAINER_DATA_DIR）`,
          `HeyGem at ${http.host} wrote its result to ${quote(raw)}, outside the shared ${container}; check DHS_HEYGEM_CONTAINER_DATA_DIR`,
        ),
        false,
      );
    }
    rels = [normalized.slice(container.length + 1)];
  } else {
    rels = [posix.join('temp', normalized), normalized];
  }
  const root = resolve(dataDir);
  return rels.map((rel) => {
    const host = resolve(root, ...rel.split('/'));
    if (host !== root && !host.startsWith(root + sep))
      throw http.garbage(`a result path that leaves the data directory: ${raw}`);
    return host;
  });
}

async function exists(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

/** A result as the engine named it (a container path), or a file already found on this host. */
type ResultPath = { engine: string } | { host: string };

/** What one query found. */
type QueryOutcome =
  | { kind: 'running'; progress: number }
  | { kind: 'done'; result: string }
  | { kind: 'failed'; msg: string }
  | { kind: 'unknown' }
  | { kind: 'silent'; error: EngineError };

export class HeyGemLipSync implements LipSyncEngine {
  readonly name = 'heygem';
  readonly http: EngineHttp;
  private readonly sleep: Sleep;
  private readonly now: () => number;
  private readonly containerDataDir: string;

  constructor(private readonly o: HeyGemOptions) {
    this.http = new EngineHttp(HEYGEM, o.url, {
      timeoutMs: o.requestTimeoutMs,
      ...(o.observer === undefined ? {} : { observer: o.observer }),
    });
    this.sleep = o.sleep ?? timerSleep;
    this.now = o.now ?? Date.now;
    this.containerDataDir = o.containerDataDir ?? '/code/data';
  }

  get host(): string {
    return this.http.host;
  }

  async render(input: LipSyncInput): Promise<{ durationSec: number }> {
    const { signal } = input;
    const code = taskCode(input.workDir);
    const tempDir = await this.sharedTempDir();
    let progress = 0;
    const report = (p: number) => {
      if (p > progress) {
        progress = p;
        input.onProgress(Math.min(0.95, p * 0.95));
      }
    };

    // A task of this code may be running, finished-and-unread, or finished-and-read (crash after the
    // answer): the first look decides between reattaching and submitting.
    let first = await this.query(code, signal);
    if (first.kind === 'silent') first = { kind: 'unknown' };
    let found: ResultPath;
    if (first.kind === 'done') {
      found = { engine: first.result };
    } else {
      if (first.kind !== 'running') {
        const leftover = await this.leftoverResult(code);
        if (leftover !== null) return this.finish(code, leftover, input);
      }
      try {
        found = await this.runTask(code, tempDir, input, first.kind === 'running', report);
      } catch (err) {
        // A final answer (failed, refused): the task is over, its files can go. Otherwise (silence,
        // shutdown) it may still be rendering, and the next attempt picks it up by its code.
        if (err instanceof EngineError && !err.retryable) await this.cleanUp(code);
        throw err;
      }
    }
    if ('host' in found) return this.finish(code, found.host, input);
    const resultPath = found.engine;
    const candidates = resultCandidates(this.http, resultPath, this.o.dataDir, this.containerDataDir);
    let hostFile: string | null = null;
    for (const c of candidates) {
      if (await exists(c)) {
        hostFile = c;
        break;
      }
    }
    if (hostFile === null) {
      await this.cleanUp(code);
      throw this.http.error(
        'config',
        t(
          `HeyGem（${this.host}）报告结果在 ${quote(resultPath)}，但本机 ${candidates.join(' 或 ')} 不存在（检查 DHS_HEYGEM_DATA_DIR 是否是容器 ${this.containerDataDir} 的挂载目录）`,
          `HeyGem at ${this.host} reports its result at ${quote(resultPath)}, but ${candidates.join(' or ')} does not exist here; check that DHS_HEYGEM_DATA_DIR is the directory mounted as the container's ${this.containerDataDir}`,
        ),
        false,
      );
    }
    return this.finish(code, hostFile, input);
  }

  /**
   * The job went elsewhere (DHS_ENGINE_FALLBACK: the local engine rendered it after HeyGem did not
   * answer): this task's files on the shared volume are removed, as after a final answer. Best effort.
   */
  async abandon(input: LipSyncInput): Promise<void> {
    await this.cleanUp(taskCode(input.workDir));
  }

  /** `<dataDir>/temp`, made when missing; a missing data directory is a configuration error. */
  private async sharedTempDir(): Promise<string> {
    try {
      if (!(await stat(this.o.dataDir)).isDirectory()) throw new Error('not a directory');
    } catch (err) {
      throw this.http.error(
        'config',
        t(
          `HeyGem（${this.host}）的共享目录 DHS_HEYGEM_DATA_DIR=${this.o.dataDir} 不存在或不是目录`,
          `the directory shared with HeyGem at ${this.host}, DHS_HEYGEM_DATA_DIR=${this.o.dataDir}, does not exist or is not a directory`,
        ),
        false,
        err,
      );
    }
    const dir = join(this.o.dataDir, 'temp');
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /**
   * Submits (unless `attached`) and polls until the final answer; returns the result path. Busy answers
   * are waited out, forgotten tasks (a restarted server) submitted again, silence tolerated for stallMs.
   */
  private async runTask(
    code: string,
    tempDir: string,
    input: LipSyncInput,
    attached: boolean,
    report: (p: number) => void,
  ): Promise<ResultPath> {
    const { signal } = input;
    const video = `${code}-dhs-video.mp4`;
    const audio = `${code}-dhs-audio.wav`;
    let inputsReady = false;
    let resubmits = 0;
    let submitted = attached;
    let lastAnswer = this.now();

    for (;;) {
      signal.throwIfAborted();
      if (!submitted) {
        if (!inputsReady) {
          await copyFile(input.videoFile, join(tempDir, video));
          // PCM wav: the server probes its duration and reads it with soundfile and ffmpeg alike.
          await this.o.media.ffmpeg(
            ['-i', input.audioFile, '-map', '0:a:0', '-vn', '-c:a', 'pcm_s16le', join(tempDir, audio)],
            { signal },
          );
          inputsReady = true;
        }
        const answer = await this.submit(code, video, audio, signal);
        if (answer === 'accepted') {
          submitted = true;
          lastAnswer = this.now();
        } else if (answer === 'busy') {
          lastAnswer = this.now();
          // Busy with our own task (an earlier attempt's, when the first look got no answer)? Then
          // follow it; with someone else's, wait and submit again, inside this attempt.
          const seen = await this.query(code, signal);
          if (seen.kind === 'running' || seen.kind === 'done') {
            submitted = true;
            const final = this.settle(seen, report);
            if (final !== null) return final;
            continue;
          }
          await this.sleep(this.o.pollMs, signal);
          continue;
        } else {
          // No answer: the task may or may not have been taken. The next query tells.
          this.checkStall(lastAnswer, answer.error);
          await this.sleep(this.o.pollMs, signal);
          const seen = await this.query(code, signal);
          if (seen.kind === 'silent') continue;
          lastAnswer = this.now();
          if (seen.kind === 'unknown') continue; // not taken: submit again
          submitted = true;
          const final = this.settle(seen, report);
          if (final !== null) return final;
          continue;
        }
      }
      await this.sleep(this.o.pollMs, signal);
      const seen = await this.query(code, signal);
      if (seen.kind === 'silent') {
        this.checkStall(lastAnswer, seen.error);
        continue;
      }
      lastAnswer = this.now();
      if (seen.kind === 'unknown') {
        // Forgotten without our reading the end: the server restarted, or the answer was lost.
        const leftover = await this.leftoverResult(code);
        if (leftover !== null) return { host: leftover };
        resubmits++;
        if (resubmits > 2) {
          throw this.http.error(
            'server',
            t(
              `HeyGem（${this.host}）多次丢失任务 ${code}（服务是否在重启？）`,
              `HeyGem at ${this.host} lost task ${code} again and again (is it restarting?)`,
            ),
            true,
          );
        }
        submitted = false;
        continue;
      }
      const final = this.settle(seen, report);
      if (final !== null) return final;
    }
  }

  /** Acts on a query that answered: progress for a running task, the result path, or the failure. */
  private settle(
    seen: Exclude<QueryOutcome, { kind: 'silent' | 'unknown' }>,
    report: (p: number) => void,
  ): ResultPath | null {
    if (seen.kind === 'running') {
      report(Math.max(0, Math.min(100, seen.progress)) / 100);
      return null;
    }
    if (seen.kind === 'done') return { engine: seen.result };
    // The task's own failure (no face, several faces, unreadable input...): asking again fails again.
    const msg = quote(seen.msg) || '（无说明）';
    throw this.http.error(
      'failed',
      t(
        `HeyGem（${this.host}）合成失败：${msg}`,
        `HeyGem at ${this.host} could not render the video: ${msg}`,
      ),
      false,
    );
  }

  private checkStall(lastAnswer: number, error: EngineError): void {
    const silentMs = this.now() - lastAnswer;
    if (silentMs < this.o.stallMs) return;
    const s = Math.round(silentMs / 1000);
    throw this.http.error(
      error.kind === 'unreachable' ? 'unreachable' : 'timeout',
      t(
        `HeyGem（${this.host}）${s} 秒没有应答（最后一次：${error.detail.zh}）`,
        `HeyGem at ${this.host} did not answer for ${s} s (last: ${error.detail.en})`,
      ),
      true,
      error,
      error.noAnswer,
    );
  }

  private async submit(
    code: string,
    video: string,
    audio: string,
    signal: AbortSignal,
  ): Promise<'accepted' | 'busy' | { error: EngineError }> {
    const dir = `${this.containerDataDir.replace(/\/+$/, '')}/temp`;
    let text: string;
    let status: number;
    try {
      ({ text, status } = await this.http.text('submit', '/easy/submit', {
        signal,
        json: {
          audio_url: `${dir}/${audio}`,
          video_url: `${dir}/${video}`,
          code,
          watermark_switch: 0,
          digital_auth: 0,
          chaofen: 0,
          // forward-then-backward frames under audio longer than the video (the server's own client's choice)
          pn: 1,
        },
      }));
    } catch (err) {
      if (err instanceof EngineError && err.retryable) return { error: err };
      throw err;
    }
    if (status >= 400) {
      const err = this.http.statusError(status, text);
      if (err.retryable) return { error: err };
      throw err;
    }
    const answer = parseAnswer(this.http, text);
    switch (answer.code) {
      case HeyGemCode.SUCCESS:
        return 'accepted';
      case HeyGemCode.BUSY:
      case HeyGemCode.LOCK_FAILED:
        return 'busy';
      case HeyGemCode.SYSTEM_ERROR:
        return {
          error: this.http.error(
            'server',
            t(`HeyGem（${this.host}）系统异常`, `HeyGem at ${this.host} reported a system error`),
            true,
          ),
        };
      case HeyGemCode.BAD_PARAMETER:
        throw this.http.error(
          'rejected',
          t(
            `HeyGem（${this.host}）拒绝了任务：${quote(answer.msg)}`,
            `HeyGem at ${this.host} refused the task: ${quote(answer.msg)}`,
          ),
          false,
        );
      default:
        throw this.http.garbage(`submit answered code ${answer.code} (${answer.msg})`);
    }
  }

  private async query(code: string, signal: AbortSignal): Promise<QueryOutcome> {
    let text: string;
    let status: number;
    try {
      ({ text, status } = await this.http.text('query', `/easy/query?code=${encodeURIComponent(code)}`, {
        signal,
      }));
    } catch (err) {
      if (err instanceof EngineError && err.retryable) return { kind: 'silent', error: err };
      throw err;
    }
    if (status >= 400) {
      const err = this.http.statusError(status, text);
      if (err.retryable) return { kind: 'silent', error: err };
      throw err;
    }
    const answer = parseAnswer(this.http, text);
    if (answer.code === HeyGemCode.NO_SUCH_TASK) return { kind: 'unknown' };
    if (answer.code === HeyGemCode.SYSTEM_ERROR || answer.code === HeyGemCode.LOCK_FAILED) {
      return {
        kind: 'silent',
        error: this.http.error(
          'server',
          t(
            `HeyGem（${this.host}）查询异常（${answer.code}）`,
            `HeyGem at ${this.host} failed a query (${answer.code})`,
          ),
          true,
        ),
      };
    }
    if (answer.code !== HeyGemCode.SUCCESS)
      throw this.http.garbage(`query answered code ${answer.code} (${answer.msg})`);
    const d = answer.data;
    switch (d.status) {
      case HeyGemStatus.RUNNING:
        return { kind: 'running', progress: d.progress ?? 0 };
      case HeyGemStatus.DONE:
        return { kind: 'done', result: d.result ?? '' };
      case HeyGemStatus.FAILED:
        return { kind: 'failed', msg: d.msg ?? '' };
      default:
        throw this.http.garbage(`query answered status ${String(d.status)} for task ${code}`);
    }
  }

  /** A result of this code already on the shared volume (the task finished; its answer was read). */
  private async leftoverResult(code: string): Promise<string | null> {
    for (const dir of ['temp', 'result']) {
      const file = join(this.o.dataDir, dir, `${code}-r.mp4`);
      if (await exists(file)) return file;
    }
    return null;
  }

  /** Copies the result out as a +faststart mp4 (remuxed; re-encoded when it is not H.264) and cleans up. */
  private async finish(
    code: string,
    hostResult: string,
    input: LipSyncInput,
  ): Promise<{ durationSec: number }> {
    const { signal } = input;
    try {
      let info;
      try {
        info = await this.o.media.probe(hostResult, { signal });
      } catch (err) {
        throw this.http.garbage(`its result ${basename(hostResult)} is not a readable video`, err);
      }
      if (info.video === null || info.audio === null) {
        throw this.http.garbage(
          `its result ${basename(hostResult)} lacks a ${info.video === null ? 'video' : 'audio'} stream`,
        );
      }
      const copyVideo = info.video.codec === 'h264';
      // The work lasts as long as its audio (as the local engines' output does): the engine's padding
      // past the end (a frame or an AAC block) is cut, not billed.
      const audioSec = (await this.o.media.probe(input.audioFile, { signal })).durationSec;
      await this.o.media.ffmpeg(
        [
          '-i',
          hostResult,
          '-map',
          '0:v:0',
          '-map',
          '0:a:0',
          ...(copyVideo ? ['-c:v', 'copy'] : [...X264_ARGS, '-pix_fmt', 'yuv420p']),
          ...(info.audio.codec === 'aac' ? ['-c:a', 'copy'] : AAC_ARGS),
          ...(audioSec > 0 ? ['-t', audioSec.toFixed(6)] : []),
          ...MP4_OUTPUT_ARGS,
          input.outFile,
        ],
        { signal },
      );
      const out = await this.o.media.probe(input.outFile, { signal });
      input.onProgress(1);
      return { durationSec: out.durationSec };
    } finally {
      await this.cleanUp(code, hostResult);
    }
  }

  /** Removes every file of this task on the shared volume (inputs, intermediates, result). */
  private async cleanUp(code: string, alsoFile?: string): Promise<void> {
    for (const dir of ['temp', 'result']) {
      const full = join(this.o.dataDir, dir);
      let names: string[];
      try {
        names = await readdir(full);
      } catch {
        continue;
      }
      // best effort: files the container wrote as another user may not be ours to delete
      await Promise.all(
        names
          .filter((n) => n.startsWith(code))
          .map((n) => rm(join(full, n), { force: true, recursive: true }).catch(() => undefined)),
      );
    }
    if (alsoFile !== undefined && basename(alsoFile).startsWith(code)) {
      await rm(alsoFile, { force: true }).catch(() => undefined);
    }
  }
}
