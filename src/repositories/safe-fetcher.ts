import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { blockedReason, parseHostLiteral } from '../domain/ip-address.ts';
import { FetchError, type DownloadResult, type Fetcher, type PostResult } from './fetcher.ts';

/** A resolver with the signature of `dns.lookup(hostname, { all: true }, callback)`; injectable for tests. */
export type LookupFn = (
  hostname: string,
  options: LookupAllOptions,
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

export interface SafeFetcherOptions {
  /** Hosts (names or IP literals, matched exactly and case-insensitively) exempt from the address check. */
  allowHosts: string[];
  userAgent?: string;
  lookup?: LookupFn;
  /** Redirects `download` follows; default 5. */
  maxRedirects?: number;
  /** Time allowed for DNS plus the TCP connect of each request; default 10000 ms. */
  connectTimeoutMs?: number;
  /**
   * The slowest average a download may keep, bytes a second; default MIN_DOWNLOAD_BYTES_PER_SEC. With
   * `downloadGraceMs` it gives each download a deadline by its size (see `download`).
   */
  minBytesPerSec?: number;
  /** Time a download gets on top of its size over `minBytesPerSec`; default DOWNLOAD_GRACE_MS. */
  downloadGraceMs?: number;
}

/**
 * A download's wall time is capped by its size: DOWNLOAD_GRACE_MS (connect, headers, a slow start)
 * plus its bytes at MIN_DOWNLOAD_BYTES_PER_SEC, so the largest video (500 MB) gets 60 s + 2000 s and a
 * 1 MB file 64 s. A server that trickles (one byte a second) ties up a worker for a minute, not for the
 * caller's whole timeout. 256 KB/s is 2 Mbit/s, which any media host or CDN exceeds.
 */
export const MIN_DOWNLOAD_BYTES_PER_SEC = 256 * 1024;
export const DOWNLOAD_GRACE_MS = 60_000;

type SocketLookup = NonNullable<RequestOptions['lookup']>;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const SNIPPET_BYTES = 512;

/** A URL that passed `checkUrl`, with the host the socket connects to. */
interface Target {
  url: URL;
  /** The canonical address for IP literals, else the host name (resolved by the guarded lookup). */
  connectHost: string;
  /** Host name as written in the URL (lower case, brackets kept for IPv6), for messages. */
  hostname: string;
  /** Exempt from the address check (allowHosts). */
  allowed: boolean;
}

/** Lower case, no trailing dot, IP literals in canonical form: the key allowHosts are matched by. */
function hostKey(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.endsWith('.')) h = h.slice(0, -1);
  return parseHostLiteral(h)?.address ?? h;
}

/**
 * Where a redirect leads: resolved against the URL that answered it. An https URL may not lead to plain
 * http: what was asked over TLS is not fetched in the clear (a downgrade an attacker on the path
 * could use). The next hop is then checked like any URL.
 */
export function redirectTarget(from: URL, location: string): URL {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    throw new FetchError('invalid_url', `${from.host} redirected to an invalid URL: ${shorten(location)}`);
  }
  if (from.protocol === 'https:' && next.protocol === 'http:') {
    throw new FetchError(
      'invalid_url',
      `${from.host} redirected from https to plain http (${shorten(next.href)}): a downgrade is refused`,
    );
  }
  return next;
}

/**
 * An allow-list entry: `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 literal; a port makes
 * the exemption hold on that port only.
 */
function splitHostPort(entry: string): { host: string; port?: number } {
  const e = entry.trim();
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(e);
  if (bracketed) return withPort(hostKey(bracketed[1] ?? ''), bracketed[2]);
  const named = /^([^:]+):(\d{1,5})$/.exec(e);
  if (named) return withPort(hostKey(named[1] ?? ''), named[2]);
  return { host: hostKey(e) };
}

function withPort(host: string, port: string | undefined): { host: string; port?: number } {
  return port === undefined ? { host } : { host, port: Number(port) };
}

/**
 * Ports a media URL may name: the web's own and the unprivileged range (CDNs and object stores use
 * 8080, 9000...). The other privileged ports are mail, shells, databases' admin and such: never a
 * media host, and the classic targets of a forged request.
 */
function isMediaPort(port: number): boolean {
  return port === 80 || port === 443 || (port >= 1024 && port <= 65535);
}

function shorten(s: string, max = 200): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

function describe(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  return reason === undefined ? 'no reason given' : String(reason);
}

/** One download or post: its total deadline and the caller's signal, merged into a single abort. */
class Operation {
  private readonly ctl = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly onOuterAbort = (): void => {
    this.abort(new FetchError('network', `${this.what} aborted: ${describe(this.outer?.reason)}`));
  };

  constructor(
    private readonly what: string,
    timeoutMs: number,
    private readonly outer: AbortSignal | undefined,
  ) {
    this.timer = setTimeout(() => {
      this.abort(new FetchError('timeout', `${what} did not complete within ${timeoutMs} ms`));
    }, timeoutMs);
    if (outer?.aborted) this.onOuterAbort();
    else outer?.addEventListener('abort', this.onOuterAbort, { once: true });
  }

  get aborted(): boolean {
    return this.ctl.signal.aborted;
  }

  /** The FetchError the operation was aborted with (only meaningful once `aborted`). */
  get reason(): FetchError {
    const r: unknown = this.ctl.signal.reason;
    return r instanceof FetchError ? r : new FetchError('network', `${this.what} aborted`);
  }

  abort(err: FetchError): void {
    if (!this.ctl.signal.aborted) this.ctl.abort(err);
  }

  /** Runs `fn` on abort (at once if already aborted). */
  onAbort(fn: (err: FetchError) => void): void {
    if (this.aborted) fn(this.reason);
    else this.ctl.signal.addEventListener('abort', () => fn(this.reason), { once: true });
  }

  /** The error to report for a failure: FetchErrors as they are, anything else after an abort is the abort. */
  errorFor(err: unknown, target: Target | undefined): FetchError {
    if (err instanceof FetchError) return err;
    if (this.aborted) return this.reason;
    return transportError(err, target);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.outer?.removeEventListener('abort', this.onOuterAbort);
  }
}

function transportError(err: unknown, target: Target | undefined): FetchError {
  const host = target?.url.host ?? 'host';
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
    case 'EAI_FAIL':
      return new FetchError('network', `cannot resolve host ${target?.hostname ?? host} (${e.code})`);
    case 'ECONNREFUSED':
      return new FetchError('network', `connection to ${host} refused`);
    case 'ECONNRESET':
      return new FetchError('network', `connection to ${host} reset`);
    default:
      // llhttp's codes: the server broke HTTP itself (e.g. more body than its Content-Length said)
      if (typeof e?.code === 'string' && e.code.startsWith('HPE_')) {
        return new FetchError('protocol', `${host} sent an invalid HTTP response: ${describe(err)}`);
      }
      return new FetchError('network', `request to ${host} failed: ${describe(err)}`);
  }
}

/**
 * The `Fetcher` for URLs from the outside world. Every connection is checked where it is made: IP
 * literals (any spelling) by `checkUrl`, host names by the lookup the socket itself uses, so a name that
 * resolves to a private/loopback/link-local/... address is refused even if it changed since an earlier
 * check (DNS rebinding). Redirects are followed by hand and every hop is checked again.
 */
export class SafeFetcher implements Fetcher {
  /** Allow-listed host -> 'any' port, or the ports it is allowed on. */
  private readonly allowHosts: Map<string, 'any' | Set<number>>;
  private readonly userAgent: string;
  private readonly lookup: LookupFn;
  private readonly maxRedirects: number;
  private readonly connectTimeoutMs: number;
  private readonly minBytesPerSec: number;
  private readonly downloadGraceMs: number;

  constructor(opts: SafeFetcherOptions) {
    this.allowHosts = new Map();
    for (const entry of opts.allowHosts) {
      const { host, port } = splitHostPort(entry);
      if (host === '') continue;
      const before = this.allowHosts.get(host);
      if (port === undefined || before === 'any') this.allowHosts.set(host, 'any');
      else this.allowHosts.set(host, new Set([...(before ?? []), port]));
    }
    this.userAgent = opts.userAgent ?? 'dhs/0.1';
    this.lookup = opts.lookup ?? ((hostname, options, callback) => dnsLookup(hostname, options, callback));
    this.maxRedirects = opts.maxRedirects ?? 5;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
    this.minBytesPerSec = opts.minBytesPerSec ?? MIN_DOWNLOAD_BYTES_PER_SEC;
    this.downloadGraceMs = opts.downloadGraceMs ?? DOWNLOAD_GRACE_MS;
  }

  checkUrl(url: string): URL {
    return this.target(url).url;
  }

  /**
   * Besides `timeoutMs` (the caller's cap), a download must end by its size deadline: `downloadGraceMs`
   * plus its size over `minBytesPerSec`, counted from the start (redirects included). The size is the
   * declared Content-Length, or without one the bytes received so far (the deadline moves on as they
   * come), and never more than maxBytes. Missing it is FetchError('too_slow'): a server that trickles.
   */
  async download(
    url: string,
    destFile: string,
    opts: { maxBytes: number; timeoutMs: number; signal?: AbortSignal },
  ): Promise<DownloadResult> {
    const op = new Operation('download', opts.timeoutMs, opts.signal);
    let target: Target | undefined;
    let file: WriteStream | undefined;
    let fileError: Error | undefined; // local disk trouble is no fetch failure: it is thrown as it is
    let bytes = 0;
    let declared: number | undefined;
    const pace = this.sizeDeadline(op, () => ({ bytes, declared }));
    try {
      target = this.target(url);
      for (let redirects = 0; ; redirects++) {
        const res = await this.send(target, 'GET', this.headers({ accept: '*/*' }), undefined, op);
        const status = res.statusCode ?? 0;
        const location = res.headers.location;
        if (REDIRECT_STATUSES.has(status) && location !== undefined && location !== '') {
          res.destroy();
          if (redirects >= this.maxRedirects) {
            throw new FetchError(
              'too_many_redirects',
              `more than ${this.maxRedirects} redirects (the last from ${target.url.host} to ${shorten(location)})`,
            );
          }
          const next = redirectTarget(target.url, location);
          target = this.target(next.href, `redirect from ${target.url.host}: `);
          continue;
        }
        if (status < 200 || status > 299) {
          res.destroy();
          throw new FetchError('http_status', `${target.url.host} answered HTTP ${status}`, status);
        }
        const length = Number(res.headers['content-length'] ?? NaN);
        if (Number.isFinite(length) && length > opts.maxBytes) {
          res.destroy();
          throw new FetchError('too_large', `file is over ${opts.maxBytes} bytes (Content-Length ${length})`);
        }
        if (Number.isFinite(length) && length >= 0) declared = length;

        const cap = new Transform({
          transform(chunk: Buffer, _enc, callback) {
            bytes += chunk.length;
            if (bytes > opts.maxBytes)
              callback(new FetchError('too_large', `file is over ${opts.maxBytes} bytes`));
            else callback(null, chunk);
          },
        });
        file = createWriteStream(destFile);
        file.once('error', (err) => (fileError = err));
        await pipeline(res, cap, file);
        return { bytes, contentType: res.headers['content-type'] ?? null, finalUrl: target.url.href };
      }
    } catch (err) {
      const error = fileError !== undefined && err === fileError ? err : op.errorFor(err, target);
      if (file !== undefined) {
        const f = file;
        if (!f.closed) {
          await new Promise<void>((resolve) => {
            f.once('close', () => resolve());
            f.destroy();
          });
        }
        await rm(destFile, { force: true });
      }
      throw error;
    } finally {
      clearTimeout(pace.timer);
      op.dispose();
    }
  }

  /**
   * Aborts `op` with 'too_slow' once it runs past its size deadline (see `download`). One timer, set
   * for the deadline as it stands; when it fires the deadline is worked out again from what has arrived
   * since, and the timer set again if it moved on.
   */
  private sizeDeadline(
    op: Operation,
    progress: () => { bytes: number; declared: number | undefined },
  ): { timer: NodeJS.Timeout | undefined } {
    const started = performance.now();
    const allowedMs = (): number => {
      const p = progress();
      return this.downloadGraceMs + ((p.declared ?? p.bytes) / this.minBytesPerSec) * 1000;
    };
    const pace: { timer: NodeJS.Timeout | undefined } = { timer: undefined };
    const check = (): void => {
      const elapsed = performance.now() - started;
      const allowed = allowedMs();
      if (elapsed < allowed) {
        pace.timer = setTimeout(check, Math.ceil(allowed - elapsed));
        return;
      }
      const p = progress();
      const of = p.declared === undefined ? '' : ` of ${p.declared}`;
      op.abort(
        new FetchError(
          'too_slow',
          `download too slow: ${p.bytes}${of} bytes in ${(elapsed / 1000).toFixed(1)} s; a download ` +
            `must average ${Math.round(this.minBytesPerSec / 1024)} KB/s after its first ` +
            `${this.downloadGraceMs / 1000} s`,
        ),
      );
    };
    pace.timer = setTimeout(check, Math.ceil(allowedMs()));
    return pace;
  }

  async post(
    url: string,
    body: string,
    headers: Record<string, string>,
    opts: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<PostResult> {
    const op = new Operation('post', opts.timeoutMs, opts.signal);
    let target: Target | undefined;
    try {
      target = this.target(url);
      const given: Record<string, string> = {};
      for (const [k, v] of Object.entries(headers)) given[k.toLowerCase()] = v;
      const all = this.headers({ ...given, 'content-length': String(Buffer.byteLength(body)) });
      const res = await this.send(target, 'POST', all, body, op);
      const bodySnippet = await readSnippet(res, SNIPPET_BYTES);
      return { status: res.statusCode ?? 0, bodySnippet };
    } catch (err) {
      throw op.errorFor(err, target);
    } finally {
      op.dispose();
    }
  }

  private headers(extra: Record<string, string>): Record<string, string> {
    return { 'user-agent': this.userAgent, ...extra, 'accept-encoding': 'identity' };
  }

  /** Parses and checks a URL (scheme, credentials, literal addresses); `context` prefixes messages. */
  private target(raw: string, context = ''): Target {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new FetchError('invalid_url', `${context}not a valid URL: ${shorten(raw)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new FetchError(
        'invalid_url',
        `${context}scheme ${url.protocol} is not allowed (http or https only)`,
      );
    }
    if (url.username !== '' || url.password !== '') {
      throw new FetchError('invalid_url', `${context}credentials in the URL are not allowed`);
    }
    const hostname = url.hostname.toLowerCase();
    if (hostname === '') throw new FetchError('invalid_url', `${context}URL has no host`);
    const literal = parseHostLiteral(hostname);
    if (literal === null && hostname.startsWith('[')) {
      throw new FetchError('invalid_url', `${context}invalid IPv6 address ${hostname}`);
    }
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    const exemption = this.allowHosts.get(hostKey(hostname));
    const allowed = exemption === 'any' || (exemption !== undefined && exemption.has(port));
    if (!allowed && !isMediaPort(port)) {
      throw new FetchError(
        'blocked',
        `${context}port ${port} is not allowed (80, 443 and 1024-65535 are; DHS_FETCH_ALLOW_HOSTS can allow host:port)`,
      );
    }
    if (literal !== null && !allowed) {
      const reason = blockedReason(literal.address);
      if (reason !== null) throw new FetchError('blocked', `${context}host ${literal.address} is ${reason}`);
    }
    return { url, connectHost: literal?.address ?? hostname, hostname, allowed };
  }

  /** The socket's own lookup: refuses (before any connect) a name with any blocked address. */
  private guardedLookup(target: Target, onBlocked: (err: FetchError) => void): SocketLookup {
    return (hostname, options, callback) => {
      this.lookup(hostname, { ...options, all: true }, (err, addresses) => {
        if (err) {
          callback(err, '');
          return;
        }
        const first = addresses[0];
        if (first === undefined) {
          callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), '');
          return;
        }
        if (!target.allowed) {
          const refused = addresses.flatMap((a) => {
            const reason = blockedReason(a.address);
            return reason === null ? [] : [`${a.address}, ${reason}`];
          });
          if (refused.length > 0) {
            const blocked = new FetchError(
              'blocked',
              `host ${target.hostname} resolves to ${refused.join('; ')}`,
            );
            onBlocked(blocked);
            callback(blocked, '');
            return;
          }
        }
        if (options.all) callback(null, addresses);
        else callback(null, first.address, first.family);
      });
    };
  }

  /** One request; resolves with the response head. The body is the caller's to consume or destroy. */
  private send(
    target: Target,
    method: 'GET' | 'POST',
    headers: Record<string, string>,
    body: string | undefined,
    op: Operation,
  ): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      if (op.aborted) {
        reject(op.reason);
        return;
      }
      let blocked: FetchError | undefined;
      let settled = false;
      const request = target.url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = request({
        protocol: target.url.protocol,
        host: target.connectHost,
        port: target.url.port === '' ? undefined : Number(target.url.port),
        path: `${target.url.pathname}${target.url.search}`,
        method,
        headers,
        // a private agent per request: no pooled socket made by other code (without this lookup) is reused
        agent: false,
        lookup: this.guardedLookup(target, (err) => (blocked = err)),
      });
      const connectTimer = setTimeout(() => {
        req.destroy(
          new FetchError(
            'timeout',
            `could not connect to ${target.url.host} within ${this.connectTimeoutMs} ms`,
          ),
        );
      }, this.connectTimeoutMs);
      const connected = (): void => clearTimeout(connectTimer);
      req.once('socket', (socket) => {
        // node stops listening for socket errors once a response is complete; a peer that keeps sending
        // (or resets) after that must not crash the process. Errors before then still reach `req`.
        socket.on('error', () => {});
        if (socket.connecting) socket.once('connect', connected);
        else connected();
      });
      // stays attached: late socket errors (e.g. bytes after the end of a response) must not go unhandled
      req.on('error', (err) => {
        connected();
        if (settled) return;
        settled = true;
        reject(blocked ?? err);
      });
      req.once('close', connected);
      req.once('response', (res) => {
        connected();
        res.on('error', () => {}); // reported through whoever consumes the body
        op.onAbort((reason) => res.destroy(reason));
        if (settled) {
          res.destroy();
          return;
        }
        settled = true;
        resolve(res);
      });
      op.onAbort((reason) => req.destroy(reason));
      req.end(body);
    });
  }
}

/** The first `limit` bytes of a body as text (never a split character); stops reading there. */
function readSnippet(res: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve) => {
    const decoder = new StringDecoder('utf8');
    let text = '';
    let got = 0;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      res.off('data', onData);
      resolve(text);
    };
    const onData = (chunk: Buffer): void => {
      const take = chunk.subarray(0, Math.max(0, limit - got));
      got += take.length;
      text += decoder.write(take);
      if (got >= limit) {
        finish();
        res.destroy();
      }
    };
    res.on('data', onData);
    res.once('end', finish);
    res.once('close', finish);
    res.once('error', finish);
  });
}
