/**
 * Every URL the server fetches (media downloads, callbacks) goes through this port: http/https only,
 * private/loopback/link-local addresses refused at connect time unless the host is allow-listed.
 */
export type FetchFailure =
  | 'invalid_url' // not parseable, not http(s), credentials in URL
  | 'blocked' // resolves to a private/loopback/link-local/... address
  | 'too_large' // Content-Length or streamed bytes over the cap
  | 'http_status' // non-2xx answer
  | 'too_many_redirects'
  | 'timeout'
  | 'too_slow' // a download past its size deadline (a body that trickles); not worth a retry
  | 'protocol' // the server broke HTTP (body longer than its Content-Length, garbage status line)
  | 'network'; // DNS failure, refused, reset

export class FetchError extends Error {
  constructor(
    readonly kind: FetchFailure,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'FetchError';
  }
}

export interface DownloadResult {
  bytes: number;
  contentType: string | null;
  finalUrl: string;
}

export interface PostResult {
  status: number;
  /** First bytes of the answer, for the delivery record. */
  bodySnippet: string;
}

export interface Fetcher {
  /** Syntax and scheme check only (no DNS): throws FetchError('invalid_url' | 'blocked' for literal IPs). */
  checkUrl(url: string): URL;
  /** Streams the body to `destFile` (never into memory); removes the partial file on failure. */
  download(
    url: string,
    destFile: string,
    opts: { maxBytes: number; timeoutMs: number; signal?: AbortSignal },
  ): Promise<DownloadResult>;
  /** POSTs a body, no redirects followed. Resolves with any HTTP status; rejects only on transport errors. */
  post(
    url: string,
    body: string,
    headers: Record<string, string>,
    opts: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<PostResult>;
}
