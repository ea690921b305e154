import type * as NodeFs from 'node:fs';
import { DhsError, ErrorCode } from './errors.ts';
import { signToken } from './md5.ts';
import {
  JobStatus,
  type Balance,
  type BillPage,
  type BillQuery,
  type JobCreated,
  type ListPage,
  type SpeechListItem,
  type VoiceListItem,
  type WorkListItem,
  type LiteSpeechCreateRequest,
  type SpeechCreateRequest,
  type SpeechStatus,
  type Tier,
  type TokenData,
  type UploadResult,
  type VoiceTrainRequest,
  type VoiceTrainStatus,
  type VoiceTrained,
  type WorkCreateRequest,
  type WorkStatus,
} from './types.ts';

/** Every seed path starts here. */
export const API_PREFIX = '/api/model/v5';

export interface DhsClientOptions {
  /** The server: `http://localhost:8080` (the API prefix is added) or a full `.../api/model/v5`. */
  baseUrl: string;
  accessKey: string;
  secretKey: string;
  /** Language of `msg` and `errorMessage`: 'zh' (the seed's, the default) or 'en'. */
  lang?: 'zh' | 'en';
  /** Renew the token this long before it expires (default 5 minutes; at most half its lifetime). */
  renewBeforeMs?: number;
  /** Limit of one request, ms (default 60 s; uploads have none unless given one). */
  timeoutMs?: number;
  /** Another fetch (a proxy agent, tests). Default: the global fetch. */
  fetch?: typeof fetch;
  /** The clock, Unix ms (tests). */
  now?: () => number;
}

/** Per call: abort it, or give it its own time limit (0: none). */
export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface UploadOptions extends CallOptions {
  /** File name sent with a Blob (a File's own name, else "upload"); a path's base name otherwise. */
  name?: string;
  /** Content type of a path's file (default: guessed from its extension). */
  contentType?: string;
}

/** What waitFor reports each time the status or progress changes. */
export interface WaitProgress<T> {
  status: number;
  /** 0-100. */
  progress: number;
  /** The whole status body just read. */
  data: T;
}

export interface WaitOptions<T> {
  onProgress?: (p: WaitProgress<T>) => void;
  signal?: AbortSignal;
  /** Give up (DhsError ErrorCode.TIMEOUT) after this long, ms. Default: wait as long as it takes. */
  timeoutMs?: number;
  /** First pause between polls, ms (default 500); it grows 1.5x while nothing changes... */
  intervalMs?: number;
  /** ...up to this, ms (default 5000). */
  maxIntervalMs?: number;
}

/** A work or speech job by id, or a voice's training by speaker id and tier. */
export type WaitTarget =
  string | { jobId: string; kind?: 'work' | Tier } | { speakerId: string; tier: Tier | 'LITE' | 'PRO' };

/** The four endpoints of one voice tier (seed 3 LITE, seed 4 PRO). */
export interface VoiceApi<Req extends SpeechCreateRequest> {
  /** 3.1 / 4.1: train a voice (a new one, or `speakerId` again). Poll trainDetail or waitFor. */
  train(req: VoiceTrainRequest, o?: CallOptions): Promise<VoiceTrained>;
  /** 3.2 / 4.2. */
  trainDetail(speakerId: string, o?: CallOptions): Promise<VoiceTrainStatus>;
  /** 3.4 / 4.4: speech in a trained voice. */
  create(req: Req, o?: CallOptions): Promise<JobCreated>;
  /** 3.5 / 4.5. */
  createDetail(jobId: string, o?: CallOptions): Promise<SpeechStatus>;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_RENEW_BEFORE_MS = 5 * 60_000;
/** The server refuses a timestamp more than 3 minutes off (20003); past this, trust its clock. */
const SKEW_WORTH_FIXING_MS = 60_000;

interface Envelope {
  code: number;
  msg: string;
  data: unknown;
}

interface Sent {
  path: string;
  method: 'GET' | 'POST';
  query?: Record<string, string>;
  json?: unknown;
  /** Made again for a retry (a FormData body can be sent once). */
  form?: () => FormData;
  auth: boolean;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

/**
 * A client of one account on a dhs server (or any server of the seed v5 API): signs for tokens and
 * keeps one until shortly before it expires, one method per endpoint, uploads, waiting for jobs.
 * Every refusal is a DhsError carrying the seed's code.
 */
export class DhsClient {
  readonly baseUrl: string;
  private readonly opts: DhsClientOptions;
  private readonly doFetch: typeof fetch;
  private readonly now: () => number;
  private cached: (TokenData & { issuedAt: number }) | null = null;
  private pending: Promise<string> | null = null;
  private lastTimestamp = 0;
  /** Server clock minus ours, learnt from a `Date` header when a signature was refused as stale. */
  private skewMs = 0;
  private lastServerDate: { server: number; local: number } | null = null;

  /** seed 1: works. */
  readonly works: {
    /** 1.1: submit a work. */
    create(req: WorkCreateRequest, o?: CallOptions): Promise<JobCreated>;
    /** 1.2: its status (and, once done, `videoUrl`). */
    inspect(jobId: string, o?: CallOptions): Promise<WorkStatus>;
    /** dhs extension: the account's works, newest first (`pn` from 1, `ds` up to 100). */
    list(q?: BillQuery, o?: CallOptions): Promise<ListPage<WorkListItem>>;
  };
  /** seed 3 (lite) and 4 (pro): voices and speech. */
  readonly voice: {
    lite: VoiceApi<LiteSpeechCreateRequest>;
    pro: VoiceApi<SpeechCreateRequest>;
    /** dhs extension: the account's voices of both tiers, newest first. */
    list(q?: BillQuery, o?: CallOptions): Promise<ListPage<VoiceListItem>>;
    /** dhs extension: the account's speech of both tiers (create jobs), newest first. */
    speeches(q?: BillQuery, o?: CallOptions): Promise<ListPage<SpeechListItem>>;
  };

  constructor(opts: DhsClientOptions) {
    if (!opts.accessKey || !opts.secretKey) throw new TypeError('DhsClient needs accessKey and secretKey');
    this.opts = opts;
    this.baseUrl = apiBase(opts.baseUrl);
    const f = opts.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new TypeError('no fetch here: pass one as options.fetch');
    this.doFetch = (input, init) => f(input, init);
    this.now = opts.now ?? (() => Date.now());
    this.works = {
      create: (req, o) => this.post<JobCreated>('/works/create', req, o),
      inspect: (jobId, o) => this.post<WorkStatus>('/works/inspect', { jobId }, o),
      list: (q = {}, o) => this.get<ListPage<WorkListItem>>('/works/list', pageQuery(q), o),
    };
    this.voice = {
      lite: this.voiceApi('lite'),
      pro: this.voiceApi('pro'),
      list: (q = {}, o) => this.get<ListPage<VoiceListItem>>('/voice/list', pageQuery(q), o),
      speeches: (q = {}, o) => this.get<ListPage<SpeechListItem>>('/voice/create/list', pageQuery(q), o),
    };
  }

  /** seed 5.1: points and voice quotas. */
  balance(o?: CallOptions): Promise<Balance> {
    return this.get<Balance>('/user/balance', {}, o);
  }

  /** seed 5.2: one page of settled charges, newest first (`pn` from 1, `ds` up to 100). */
  bills(q: BillQuery = {}, o?: CallOptions): Promise<BillPage> {
    return this.get<BillPage>('/user/bill/list', pageQuery(q), o);
  }

  /**
   * A token for the other endpoints: the cached one, or a new one (seed 2.1) when there is none or it
   * expires within `renewBeforeMs`. Concurrent callers share one request.
   */
  async token(o: CallOptions = {}): Promise<string> {
    const c = this.cached;
    if (c !== null) {
      const margin = Math.min(
        this.opts.renewBeforeMs ?? DEFAULT_RENEW_BEFORE_MS,
        (c.expiresIn - c.issuedAt) / 2,
      );
      if (this.now() < c.expiresIn - margin) return c.token;
    }
    this.pending ??= this.issueToken(o).finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  /** Forgets the cached token (the next call signs for a new one). */
  invalidateToken(): void {
    this.cached = null;
  }

  /**
   * Uploads a file (dhs extension `POST /files/upload`, multipart field `file`) and answers its URL,
   * for `videoUrl` / `audioUrl`. A string is a path (Node only: streamed from disk); a Blob or File
   * works everywhere.
   */
  async upload(file: string | Blob, o: UploadOptions = {}): Promise<UploadResult> {
    const { blob, name } = typeof file === 'string' ? await blobOfPath(file, o.contentType) : blobOf(file, o);
    return this.call<UploadResult>({
      path: '/files/upload',
      method: 'POST',
      form: () => {
        const form = new FormData();
        form.append('file', blob, o.name ?? name);
        return form;
      },
      auth: true,
      timeoutMs: o.timeoutMs ?? 0,
      signal: o.signal,
    });
  }

  /**
   * Polls a job (a work, or speech: by id) or a voice's training (`{ speakerId, tier }`) until it ends,
   * with backoff; `onProgress` hears every change. Answers the final status body when it succeeded
   * (status 3); throws a DhsError with the job's `errorCode` and `errorMessage` (and the body as
   * `data`) when it failed (status 4). Network trouble and rate limits while polling are waited out.
   * A job id is routed by its prefix (`sl_` LITE speech, `sp_` PRO speech, anything else a work);
   * `{ jobId, kind }` says it outright.
   */
  waitFor(
    target: { speakerId: string; tier: Tier | 'LITE' | 'PRO' },
    o?: WaitOptions<VoiceTrainStatus>,
  ): Promise<VoiceTrainStatus>;
  waitFor(target: { jobId: string; kind: Tier }, o?: WaitOptions<SpeechStatus>): Promise<SpeechStatus>;
  waitFor(target: { jobId: string; kind?: 'work' }, o?: WaitOptions<WorkStatus>): Promise<WorkStatus>;
  waitFor(target: string, o?: WaitOptions<WorkStatus | SpeechStatus>): Promise<WorkStatus | SpeechStatus>;
  waitFor(target: WaitTarget, o?: WaitOptions<WaitBody>): Promise<WaitBody>;
  async waitFor(target: WaitTarget, o: WaitOptions<WaitBody> = {}): Promise<WaitBody> {
    const { id, read } = this.poller(target);
    const start = this.now();
    const deadline = o.timeoutMs === undefined ? Infinity : start + o.timeoutMs;
    const first = o.intervalMs ?? 500;
    const max = Math.max(first, o.maxIntervalMs ?? 5000);
    let pause = first;
    let last: WaitBody | undefined;
    for (;;) {
      o.signal?.throwIfAborted();
      let body: WaitBody | undefined;
      try {
        body = await read({ signal: o.signal });
      } catch (err) {
        // waited out: the server restarting, a network blip, a rate limit
        if (!(err instanceof DhsError) || !err.transient) throw err;
      }
      if (body !== undefined) {
        const changed = last === undefined || body.status !== last.status || body.progress !== last.progress;
        last = body;
        if (changed) {
          o.onProgress?.({ status: body.status, progress: body.progress ?? 0, data: body });
          pause = first;
        } else pause = Math.min(max, pause * 1.5);
        if (body.status === JobStatus.DONE) return body;
        if (body.status === JobStatus.FAILED)
          throw new DhsError(body.errorCode || ErrorCode.OTHER, body.errorMessage || 'failed', {
            jobId: id,
            data: body,
          });
      } else pause = Math.min(max, pause * 2);
      const left = deadline - this.now();
      if (left <= 0) {
        const seen = last === undefined ? 'no status read' : `status ${last.status}, ${last.progress ?? 0}%`;
        throw new DhsError(ErrorCode.TIMEOUT, `gave up waiting for ${id} after ${o.timeoutMs} ms (${seen})`, {
          jobId: id,
          data: last,
        });
      }
      await sleep(Math.min(pause, left), o.signal);
    }
  }

  private poller(target: WaitTarget): { id: string; read: (o: CallOptions) => Promise<WaitBody> } {
    if (typeof target !== 'string' && 'speakerId' in target) {
      const tier = target.tier.toLowerCase() as Tier;
      return { id: target.speakerId, read: (o) => this.voice[tier].trainDetail(target.speakerId, o) };
    }
    const jobId = typeof target === 'string' ? target : target.jobId;
    const kind = (typeof target === 'string' ? undefined : target.kind) ?? kindOfJobId(jobId);
    if (kind === 'work') return { id: jobId, read: (o) => this.works.inspect(jobId, o) };
    return { id: jobId, read: (o) => this.voice[kind].createDetail(jobId, o) };
  }

  private voiceApi<Req extends SpeechCreateRequest>(tier: Tier): VoiceApi<Req> {
    const base = `/voice/${tier}`;
    return {
      train: (req, o) => this.post<VoiceTrained>(`${base}/train`, req, o),
      trainDetail: (speakerId, o) => this.post<VoiceTrainStatus>(`${base}/train/detail`, { speakerId }, o),
      create: (req, o) => this.post<JobCreated>(`${base}/create`, req, o),
      createDetail: (jobId, o) => this.post<SpeechStatus>(`${base}/create/detail`, { jobId }, o),
    };
  }

  private post<T>(path: string, json: unknown, o: CallOptions = {}): Promise<T> {
    return this.call<T>({ path, method: 'POST', json, auth: true, ...this.limits(o) });
  }

  private get<T>(path: string, query: Record<string, string>, o: CallOptions = {}): Promise<T> {
    return this.call<T>({ path, method: 'GET', query, auth: true, ...this.limits(o) });
  }

  private limits(o: CallOptions): { timeoutMs: number; signal: AbortSignal | undefined } {
    return { timeoutMs: o.timeoutMs ?? this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, signal: o.signal };
  }

  private async issueToken(o: CallOptions): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      // a fresh timestamp every time: the server refuses a (key, timestamp, sign) it has seen
      const timestamp = Math.max(Math.round(this.now() + this.skewMs), this.lastTimestamp + 1);
      this.lastTimestamp = timestamp;
      try {
        const data = await this.call<TokenData>({
          path: '/oauth/token',
          method: 'GET',
          query: {
            accessKey: this.opts.accessKey,
            timestamp: String(timestamp),
            sign: signToken(this.opts.accessKey, timestamp, this.opts.secretKey),
          },
          auth: false,
          ...this.limits(o),
        });
        this.cached = { ...data, issuedAt: this.now() };
        return data.token;
      } catch (err) {
        // A stale signature because this machine's clock is off: sign once more on the server's.
        const d = this.lastServerDate;
        if (attempt === 0 && err instanceof DhsError && err.code === ErrorCode.BAD_SIGNATURE && d !== null) {
          const skew = d.server - d.local;
          if (Math.abs(skew - this.skewMs) > SKEW_WORTH_FIXING_MS) {
            this.skewMs = skew;
            continue;
          }
        }
        throw err;
      }
    }
  }

  /** One request; an authenticated one is tried once more with a new token if its token was refused. */
  private async call<T>(req: Sent): Promise<T> {
    if (!req.auth) return (await this.send(req, undefined)) as T;
    const token = await this.token(req);
    try {
      return (await this.send(req, token)) as T;
    } catch (err) {
      // revoked, or the server forgot it (a restore): sign again, once
      if (!(err instanceof DhsError) || err.code !== ErrorCode.INVALID_TOKEN) throw err;
      if (this.cached?.token === token) this.cached = null;
      return (await this.send(req, await this.token(req))) as T;
    }
  }

  private async send(req: Sent, token: string | undefined): Promise<unknown> {
    let url = `${this.baseUrl}${req.path}`;
    if (req.query !== undefined) url += `?${new URLSearchParams(req.query).toString()}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.opts.lang !== undefined) headers['accept-language'] = this.opts.lang;
    if (token !== undefined) headers['authorization-token'] = token;
    let body: string | FormData | undefined;
    if (req.form !== undefined) body = req.form();
    else if (req.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(req.json);
    }
    const { signal, timedOut, done } = limit(req.signal, req.timeoutMs);
    const what = `${req.method} ${req.path}`;
    let res: Response;
    let text: string;
    try {
      res = await this.doFetch(url, { method: req.method, headers, body, signal });
      text = await res.text();
    } catch (err) {
      if (req.signal?.aborted) throw req.signal.reason;
      if (timedOut())
        throw new DhsError(ErrorCode.TIMEOUT, `${what}: no answer within ${req.timeoutMs} ms`, {
          cause: err,
        });
      const why = err instanceof Error ? describeNetworkError(err) : String(err);
      throw new DhsError(ErrorCode.NETWORK, `cannot reach ${this.baseUrl} (${what}): ${why}`, { cause: err });
    } finally {
      done();
    }
    const requestId = res.headers.get('x-request-id') ?? undefined;
    const date = Date.parse(res.headers.get('date') ?? '');
    if (Number.isFinite(date)) this.lastServerDate = { server: date, local: this.now() };
    let env: Envelope | undefined;
    try {
      const parsed: unknown = JSON.parse(text);
      if (isEnvelope(parsed)) env = parsed;
    } catch {
      env = undefined;
    }
    if (env === undefined || !res.ok) {
      const snippet = text.slice(0, 200).replace(/\s+/g, ' ').trim();
      throw new DhsError(ErrorCode.HTTP, `${what}: HTTP ${res.status}${snippet ? `: ${snippet}` : ''}`, {
        httpStatus: res.status,
        ...(requestId === undefined ? {} : { requestId }),
      });
    }
    if (env.code !== 0) throw new DhsError(env.code, env.msg, requestId === undefined ? {} : { requestId });
    return env.data;
  }
}

type WaitBody = WorkStatus | SpeechStatus | VoiceTrainStatus;

/** The job a dhs id names: works are `w_...`, LITE speech `sl_...`, PRO speech `sp_...`. */
/** `pn` / `ds` as the list endpoints take them. */
function pageQuery(q: BillQuery): Record<string, string> {
  return { pn: String(q.pn ?? 1), ds: String(q.ds ?? 10) };
}

export function kindOfJobId(jobId: string): 'work' | Tier {
  if (jobId.startsWith('sl_')) return 'lite';
  if (jobId.startsWith('sp_')) return 'pro';
  return 'work';
}

function apiBase(baseUrl: string): string {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    throw new TypeError(`baseUrl is not a URL: ${JSON.stringify(baseUrl)}`);
  }
  const path = u.pathname.replace(/\/+$/, '');
  return `${u.origin}${path.endsWith(API_PREFIX) ? path : `${path}${API_PREFIX}`}`;
}

function isEnvelope(v: unknown): v is Envelope {
  return typeof v === 'object' && v !== null && typeof (v as { code?: unknown }).code === 'number';
}

/** undici's "fetch failed" hides the reason in `cause` (ECONNREFUSED, ENOTFOUND...). */
function describeNetworkError(err: Error): string {
  const cause = err.cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' ? `${code} ${cause.message}` : cause.message;
  }
  return err.message;
}

/** The caller's signal combined with a time limit (0: none). */
function limit(outer: AbortSignal | undefined, timeoutMs: number) {
  const controller = new AbortController();
  let expired = false;
  const onAbort = () => controller.abort(outer?.reason);
  if (outer?.aborted) controller.abort(outer.reason);
  else outer?.addEventListener('abort', onAbort, { once: true });
  const timer =
    timeoutMs > 0
      ? setTimeout(() => {
          expired = true;
          controller.abort(new Error('timeout'));
        }, timeoutMs)
      : undefined;
  return {
    signal: controller.signal,
    timedOut: () => expired,
    done: () => {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onAbort);
    },
  };
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function blobOf(file: Blob, o: UploadOptions): { blob: Blob; name: string } {
  const own = (file as { name?: unknown }).name;
  return { blob: file, name: o.name ?? (typeof own === 'string' && own !== '' ? own : 'upload') };
}

const CONTENT_TYPES: Record<string, string> = {
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  mkv: 'video/x-matroska',
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  m4a: 'audio/mp4',
  aac: 'audio/aac',
  flac: 'audio/flac',
  ogg: 'audio/ogg',
  opus: 'audio/ogg',
  amr: 'audio/amr',
  aiff: 'audio/aiff',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
};

/** A content type by file extension (the server checks what the file really is). */
export function contentTypeOf(fileName: string): string {
  const ext = /\.([A-Za-z0-9]+)$/.exec(fileName)?.[1]?.toLowerCase() ?? '';
  return CONTENT_TYPES[ext] ?? 'application/octet-stream';
}

/** Node: a Blob backed by the file (read while it is sent, never whole in memory where Node allows). */
async function blobOfPath(
  path: string,
  contentType: string | undefined,
): Promise<{ blob: Blob; name: string }> {
  const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
  if (!isNode) throw new TypeError('upload(path) needs Node.js: in a browser pass a Blob or File');
  // computed specifier: bundlers for the browser leave it alone
  const fsModule = 'node:fs';
  const fs = (await import(fsModule)) as typeof NodeFs;
  const stat = await fs.promises.stat(path);
  if (!stat.isFile()) throw new TypeError(`${path} is not a file`);
  const name = path.split(/[\\/]/).pop() || 'upload';
  const type = contentType ?? contentTypeOf(name);
  const blob =
    typeof fs.openAsBlob === 'function'
      ? await fs.openAsBlob(path, { type })
      : new Blob([await fs.promises.readFile(path)], { type });
  return { blob, name };
}
