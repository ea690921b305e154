/**
 * HTTP to the remote GPU engines (HeyGem, CosyVoice, GPT-SoVITS, fish-speech): one place that turns
 * what can go wrong on the wire into errors a customer can read, each naming the engine and its host
 * ("HeyGem at gpu-host:8383 did not answer within 30 s"). Network trouble, timeouts and 5xx answers are
 * retryable; a 4xx answer is permanent (the same request would be refused again); an answer that is not
 * the engine's API (HTML from a proxy, a cut-off stream) is reported as such.
 *
 * The engine URLs are the operator's own configuration (usually a LAN address), so these requests do
 * not go through the safe fetcher that guards customer-supplied URLs.
 */
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { AppError, ErrorCode, t, type LocalizedText } from '../../domain/errors.ts';

/**
 * What went wrong: `unreachable` (refused, reset, DNS), `timeout` (no complete answer in time),
 * `server` (5xx, or the answer broke off), `rejected` (4xx), `garbage` (not the engine's API),
 * `failed` (the engine answered that the task failed), `config` (our side cannot reach its files).
 */
export type EngineFailureKind =
  'unreachable' | 'timeout' | 'server' | 'rejected' | 'garbage' | 'failed' | 'config';

/** A remote engine's failure: an AppError (20902, a processing stage failed) that names engine and host. */
export class EngineError extends AppError {
  /**
   * Nothing came back from the engine: the connection failed, or the time ran out before its answer
   * began. False once it answered anything (a status, part of a body), however badly. By default:
   * true for `unreachable` and `timeout`.
   */
  readonly noAnswer: boolean;

  constructor(
    readonly engine: string,
    readonly host: string,
    readonly kind: EngineFailureKind,
    detail: LocalizedText,
    retryable: boolean,
    cause?: unknown,
    noAnswer?: boolean,
  ) {
    super(ErrorCode.INTERNAL_STAGE, detail, { retryable, ...(cause === undefined ? {} : { cause }) });
    this.name = 'EngineError';
    this.noAnswer = noAnswer ?? (kind === 'unreachable' || kind === 'timeout');
  }
}

export function isEngineError(err: unknown): err is EngineError {
  return err instanceof EngineError;
}

/** One finished call to an engine, for per-engine metrics (requests, errors, latency). */
export interface EngineCall {
  engine: string;
  operation: string;
  /** 'ok', or the failure kind. */
  outcome: 'ok' | EngineFailureKind;
  seconds: number;
}

export type EngineObserver = (call: EngineCall) => void;

/** Longest engine message quoted back to the customer. */
const MAX_QUOTE = 300;

/** An engine's own words, made safe to quote: one line, printable, bounded. */
export function quote(text: string): string {
  // control characters (C0 and DEL) become spaces
  const clean = [...text]
    .map((ch) => {
      const c = ch.codePointAt(0) ?? 0;
      return c < 0x20 || c === 0x7f ? ' ' : ch;
    })
    .join('')
    .replace(/\s+/g, ' ')
    .trim();
  return clean.length > MAX_QUOTE ? `${clean.slice(0, MAX_QUOTE)}…` : clean;
}

/** The error message inside an engine's error body: FastAPI `detail`, `message`, `msg`, `error`, or the text. */
export function messageOf(body: string): string {
  try {
    const v: unknown = JSON.parse(body);
    if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      const detail = o.detail;
      if (typeof detail === 'string') return quote(detail);
      if (Array.isArray(detail)) {
        // FastAPI validation errors: [{loc: [...], msg: '...'}]
        const parts = detail.map((d: unknown) => {
          if (d === null || typeof d !== 'object') return String(d);
          const e = d as { loc?: unknown; msg?: unknown };
          const loc = Array.isArray(e.loc) ? e.loc.join('.') : '';
          return `${loc}${loc ? ': ' : ''}${String(e.msg ?? '')}`;
        });
        return quote(parts.join('; '));
      }
      for (const key of ['message', 'msg', 'error']) {
        const m = o[key];
        if (typeof m === 'string' && m !== '') {
          const extra = typeof o.Exception === 'string' ? ` (${o.Exception})` : '';
          return quote(m + extra);
        }
      }
    }
  } catch {
    // not JSON: the text itself
  }
  return quote(body);
}

function seconds(ms: number): string {
  return ms >= 10_000 ? String(Math.round(ms / 1000)) : (ms / 1000).toFixed(1).replace(/\.0$/, '');
}

/** Why a request never got an answer, in words (from the socket error's code). */
function networkReason(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause ?? err;
  const code = (cause as { code?: unknown }).code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not found';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connection timed out';
    default: {
      const m = cause instanceof Error ? cause.message : String(cause);
      return quote(typeof code === 'string' ? `${code}: ${m}` : m);
    }
  }
}

export interface RequestOptions {
  method?: 'GET' | 'POST';
  /** JSON body (sent as application/json). */
  json?: unknown;
  /** Multipart body. */
  form?: FormData;
  headers?: Record<string, string>;
  /** Whole-call limit (answer and body); the client's default when absent. */
  timeoutMs?: number;
  /** The job's signal: when it aborts, the call stops and its reason is thrown as is. */
  signal: AbortSignal;
}

/** The answer to a call whose body was read completely. */
export interface TextAnswer {
  status: number;
  contentType: string;
  text: string;
}

/** Largest JSON/text answer read into memory. */
const MAX_TEXT_BYTES = 4 * 1024 * 1024;

/**
 * A client for one engine base URL. Each call reads its whole answer under one timeout and reports once
 * to the observer; failures come out as EngineError (or the job signal's abort reason).
 */
export class EngineHttp {
  readonly host: string;
  private readonly base: URL;

  constructor(
    readonly engine: string,
    baseUrl: string,
    private readonly o: {
      timeoutMs: number;
      observer?: EngineObserver;
      /** Sent with every call (e.g. Authorization). */
      headers?: Record<string, string>;
    },
  ) {
    this.base = new URL(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
    this.host = this.base.host;
  }

  /** An EngineError about this engine (`noAnswer`: EngineError.noAnswer, by default from the kind). */
  error(
    kind: EngineFailureKind,
    detail: LocalizedText,
    retryable: boolean,
    cause?: unknown,
    noAnswer?: boolean,
  ): EngineError {
    return new EngineError(this.engine, this.host, kind, detail, retryable, cause, noAnswer);
  }

  /** "the engine answered something that is not its API" (permanent: asking again gets the same). */
  garbage(what: string, cause?: unknown): EngineError {
    const w = quote(what);
    return this.error(
      'garbage',
      t(
        `${this.engine}（${this.host}）的应答不符合其接口：${w}`,
        `${this.engine} at ${this.host} answered something that is not its API: ${w}`,
      ),
      false,
      cause,
    );
  }

  url(path: string): URL {
    return new URL(path.replace(/^\//, ''), this.base);
  }

  /** Calls and reads the answer as text (any status). Throws only for transport trouble and timeouts. */
  async text(operation: string, path: string, opts: RequestOptions): Promise<TextAnswer> {
    return this.call(operation, path, opts, async (res) => {
      const text = await this.readBounded(res, MAX_TEXT_BYTES);
      return { status: res.status, contentType: res.headers.get('content-type') ?? '', text };
    });
  }

  /**
   * Calls and, on 2xx, streams the body to `file`, giving back the bytes written and the content type.
   * Non-2xx answers become EngineError (4xx permanent, 5xx retryable) quoting the engine's message.
   */
  async toFile(
    operation: string,
    path: string,
    file: string,
    opts: RequestOptions & { maxBytes: number },
  ): Promise<{ bytes: number; contentType: string }> {
    return this.call(operation, path, opts, async (res) => {
      if (res.status < 200 || res.status > 299) {
        const body = await this.readBounded(res, 64 * 1024).catch(() => '');
        throw this.statusError(res.status, body);
      }
      if (res.body === null) return { bytes: 0, contentType: res.headers.get('content-type') ?? '' };
      let bytes = 0;
      const source = Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>);
      source.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes > opts.maxBytes) {
          source.destroy(this.garbage(`the answer is larger than ${opts.maxBytes} bytes`));
        }
      });
      try {
        await pipeline(source, createWriteStream(file));
      } catch (err) {
        await rm(file, { force: true });
        throw err;
      }
      return { bytes, contentType: res.headers.get('content-type') ?? '' };
    });
  }

  /** The EngineError for a non-2xx status: 4xx permanent (refused), 5xx retryable. */
  statusError(status: number, body: string): EngineError {
    const msg = messageOf(body);
    const said = msg === '' ? '' : `: ${msg}`;
    if (status >= 400 && status < 500) {
      return this.error(
        'rejected',
        t(
          `${this.engine}（${this.host}）拒绝了请求（HTTP ${status}${said}）`,
          `${this.engine} at ${this.host} refused the request (HTTP ${status}${said})`,
        ),
        false,
      );
    }
    return this.error(
      'server',
      t(
        `${this.engine}（${this.host}）出错（HTTP ${status}${said}）`,
        `${this.engine} at ${this.host} failed (HTTP ${status}${said})`,
      ),
      true,
    );
  }

  private async call<T>(
    operation: string,
    path: string,
    opts: RequestOptions,
    read: (res: Response) => Promise<T>,
  ): Promise<T> {
    opts.signal.throwIfAborted();
    const timeoutMs = opts.timeoutMs ?? this.o.timeoutMs;
    const timer = new AbortController();
    const handle = setTimeout(() => timer.abort(new Error('engine timeout')), timeoutMs);
    const signal = AbortSignal.any([opts.signal, timer.signal]);
    const started = performance.now();
    const headers: Record<string, string> = { ...this.o.headers, ...opts.headers };
    let body: string | FormData | undefined;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['content-type'] = 'application/json';
    } else if (opts.form !== undefined) {
      body = opts.form;
    }
    const report = (outcome: EngineCall['outcome']) =>
      this.o.observer?.({
        engine: this.engine,
        operation,
        outcome,
        seconds: (performance.now() - started) / 1000,
      });
    let answered = false;
    try {
      const res = await fetch(this.url(path), {
        method: opts.method ?? (body === undefined ? 'GET' : 'POST'),
        headers,
        ...(body === undefined ? {} : { body }),
        signal,
        redirect: 'error',
      });
      answered = true;
      const out = await read(res);
      report('ok');
      return out;
    } catch (caught) {
      // the job stopped (timeout, shutdown): not the engine's doing, so not an engine error
      if (opts.signal.aborted) throw opts.signal.reason;
      const err = this.classify(caught, timer.signal.aborted, timeoutMs, answered);
      report(err.kind);
      throw err;
    } finally {
      clearTimeout(handle);
    }
  }

  private classify(caught: unknown, timedOut: boolean, timeoutMs: number, answered: boolean): EngineError {
    if (caught instanceof EngineError) return caught;
    if (timedOut) {
      return this.error(
        'timeout',
        t(
          `${this.engine}（${this.host}）在 ${seconds(timeoutMs)} 秒内没有应答`,
          `${this.engine} at ${this.host} did not answer within ${seconds(timeoutMs)} s`,
        ),
        true,
        caught,
        // the answer had begun (a stream too slow to finish): the engine is there
        !answered,
      );
    }
    if (answered) {
      // the status line came, then the connection closed before the body ended (a stream cut off)
      return this.error(
        'server',
        t(
          `${this.engine}（${this.host}）的应答中途中断`,
          `${this.engine} at ${this.host} broke off its answer`,
        ),
        true,
        caught,
      );
    }
    const reason = networkReason(caught);
    return this.error(
      'unreachable',
      t(
        `${this.engine}（${this.host}）无法连接（${reason}）`,
        `${this.engine} at ${this.host} is unreachable (${reason})`,
      ),
      true,
      caught,
    );
  }

  /** Reads a body as UTF-8 up to `max` bytes (an engine's JSON answer is small; more is not its API). */
  private async readBounded(res: Response, max: number): Promise<string> {
    if (res.body === null) return '';
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.length;
      if (size > max) throw this.garbage(`an answer of more than ${max} bytes`);
      chunks.push(Buffer.from(chunk));
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}
