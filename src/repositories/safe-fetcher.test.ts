import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FetchError, type FetchFailure } from './fetcher.ts';
import { redirectTarget, SafeFetcher, type LookupFn } from './safe-fetcher.ts';

// ---- helpers ------------------------------------------------------------------------------------------

interface Loopback {
  port: number;
  base: string;
  /** TCP connections accepted so far. */
  connections: number;
  /** HTTP requests seen so far (http servers only), with their paths. */
  paths: string[];
  close(): Promise<void>;
}

async function listen(server: Server, paths: string[]): Promise<Loopback> {
  const sockets = new Set<Socket>();
  const lb: Loopback = {
    port: 0,
    base: '',
    connections: 0,
    paths,
    async close() {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
  server.on('connection', (s: Socket) => {
    lb.connections++;
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  lb.port = (server.address() as AddressInfo).port;
  lb.base = `http://127.0.0.1:${lb.port}`;
  servers.push(lb);
  return lb;
}

function httpServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Loopback> {
  const paths: string[] = [];
  const server = createHttpServer((req, res) => {
    paths.push(req.url ?? '');
    handler(req, res);
  });
  return listen(server, paths);
}

/** A server that speaks raw bytes, to misbehave in ways node's http server would not. */
function rawServer(onSocket: (s: Socket) => void): Promise<Loopback> {
  const server = createNetServer((s) => {
    s.on('error', () => {});
    onSocket(s);
  });
  return listen(server, []);
}

/** Writes `chunk` for as long as the peer reads; resolves when the connection is gone. */
function sendForever(s: Socket, chunk: Buffer): Promise<void> {
  const pump = (): void => {
    while (!s.destroyed && s.write(chunk)) {
      /* keep writing until the buffer is full */
    }
    if (!s.destroyed) s.once('drain', pump);
  };
  pump();
  return new Promise((resolve) => s.once('close', () => resolve())); // not events.once: errors are expected
}

/** The same through an http response (chunked framing intact). */
function respondForever(res: ServerResponse, chunk: Buffer): Promise<void> {
  const pump = (): void => {
    while (!res.destroyed && res.write(chunk)) {
      /* keep writing until the buffer is full */
    }
    if (!res.destroyed) res.once('drain', pump);
  };
  pump();
  return new Promise((resolve) => res.once('close', () => resolve()));
}

const servers: Loopback[] = [];
let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dhs-safe-fetcher-'));
});

after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await rm(dir, { recursive: true, force: true });
});

/** A fresh directory for one test's downloads, so one failure cannot leak into another test's check. */
async function scratch(): Promise<{ file: () => string; left: () => Promise<string[]> }> {
  const own = await mkdtemp(join(dir, 't-'));
  let n = 0;
  return { file: () => join(own, `download-${++n}.bin`), left: () => readdir(own) };
}

/** A lookup that maps names to fixed addresses and records every call. */
function fakeDns(table: Record<string, string[]>): LookupFn & { calls: string[] } {
  const calls: string[] = [];
  const fn = (
    hostname: string,
    _options: unknown,
    callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
  ): void => {
    calls.push(hostname);
    const addrs = table[hostname];
    if (addrs === undefined) {
      const err: NodeJS.ErrnoException = Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
        code: 'ENOTFOUND',
      });
      process.nextTick(callback, err, []);
      return;
    }
    const answer = addrs.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    process.nextTick(callback, null, answer);
  };
  return Object.assign(fn, { calls });
}

const noDns: LookupFn = (hostname) => {
  throw new Error(`unexpected DNS lookup of ${hostname}`);
};

async function rejectsWith(p: Promise<unknown>, kind: FetchFailure, message?: RegExp): Promise<FetchError> {
  const err = await p.then(
    () => assert.fail(`expected FetchError(${kind}), got success`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof FetchError, `expected a FetchError, got ${String(err)}`);
  assert.equal(err.kind, kind, err.message);
  if (message) assert.match(err.message, message);
  return err;
}

function throwsWith(fn: () => unknown, kind: FetchFailure, message?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof FetchError, `expected a FetchError, got ${String(err)}`);
    assert.equal(err.kind, kind, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

const loopbackAllowed = (extra: Partial<ConstructorParameters<typeof SafeFetcher>[0]> = {}) =>
  new SafeFetcher({ allowHosts: ['127.0.0.1'], lookup: noDns, ...extra });

const big = { maxBytes: 10_000_000, timeoutMs: 5_000 };

// ---- checkUrl -----------------------------------------------------------------------------------------

test('checkUrl refuses non-http schemes, credentials and garbage', () => {
  const f = new SafeFetcher({ allowHosts: [], lookup: noDns });
  throwsWith(() => f.checkUrl('ftp://example.com/a.wav'), 'invalid_url', /scheme ftp:/);
  throwsWith(() => f.checkUrl('file:///etc/passwd'), 'invalid_url');
  throwsWith(() => f.checkUrl('javascript:alert(1)'), 'invalid_url');
  throwsWith(() => f.checkUrl('not a url'), 'invalid_url', /not a valid URL/);
  throwsWith(() => f.checkUrl(''), 'invalid_url');
  throwsWith(() => f.checkUrl('http://[::1/'), 'invalid_url');
  throwsWith(() => f.checkUrl('http://user:pw@example.com/a.wav'), 'invalid_url', /credentials/);
  throwsWith(() => f.checkUrl('https://token@example.com/a.wav'), 'invalid_url', /credentials/);
  assert.equal(f.checkUrl('https://Example.COM/a.wav?x=1').href, 'https://example.com/a.wav?x=1');
  assert.equal(f.checkUrl('http://8.8.8.8/a').hostname, '8.8.8.8');
});

test('checkUrl refuses every spelling of a blocked literal address, without DNS', () => {
  const f = new SafeFetcher({ allowHosts: [], lookup: noDns });
  const cases: [string, RegExp][] = [
    ['http://2130706433/', /host 127\.0\.0\.1 is a loopback address/],
    ['http://0177.0.0.1/', /127\.0\.0\.1/],
    ['http://0x7f.1/', /127\.0\.0\.1/],
    ['http://0x7f000001/', /127\.0\.0\.1/],
    ['http://127.1/', /127\.0\.0\.1/],
    ['http://127.0.0.1./', /127\.0\.0\.1/],
    ['http://[::1]/', /host ::1 is a loopback address/],
    ['http://[::ffff:127.0.0.1]/', /IPv4-mapped 127\.0\.0\.1/],
    ['http://[::ffff:7f00:1]/', /IPv4-mapped/],
    ['http://[0:0:0:0:0:ffff:a9fe:a9fe]/', /link-local/],
    ['http://169.254.169.254/latest/meta-data/', /host 169\.254\.169\.254 is a link-local address/],
    ['http://10.0.0.5/', /host 10\.0\.0\.5 is a private address/],
    ['https://172.16.3.4/', /private/],
    ['http://192.168.1.1:8080/', /private/],
    ['http://100.64.0.1/', /carrier-grade NAT/],
    ['http://0.0.0.0/', /unspecified/],
    ['http://0/', /unspecified/],
    ['http://224.0.0.1/', /multicast/],
    ['http://255.255.255.255/', /broadcast/],
    ['http://[fd00::1]/', /unique-local/],
    ['http://[fe80::1]/', /link-local/],
    ['http://[64:ff9b::a00:1]/', /NAT64 10\.0\.0\.1/],
    ['http://[2002:c0a8:101::]/', /6to4 192\.168\.1\.1/],
  ];
  for (const [url, message] of cases) throwsWith(() => f.checkUrl(url), 'blocked', message);
});

test('allowHosts exempts a host by exact, case-insensitive match, literals in any spelling', () => {
  const f = new SafeFetcher({ allowHosts: ['127.0.0.1', 'MinIO.Local', '[::1]'], lookup: noDns });
  assert.equal(f.checkUrl('http://2130706433:9000/x').hostname, '127.0.0.1');
  assert.equal(f.checkUrl('http://0x7f.1/x').hostname, '127.0.0.1');
  assert.equal(f.checkUrl('http://[::1]/x').hostname, '[::1]');
  assert.equal(f.checkUrl('http://minio.local/x').hostname, 'minio.local');
  throwsWith(() => f.checkUrl('http://127.0.0.2/'), 'blocked');
  throwsWith(() => f.checkUrl('http://10.0.0.1/'), 'blocked');
});

test('allowHosts entries with a port exempt that port only; other privileged ports are refused', () => {
  const f = new SafeFetcher({ allowHosts: ['127.0.0.1:9000', '[::1]:8080', 'media.lan:22'], lookup: noDns });
  assert.equal(f.checkUrl('http://127.0.0.1:9000/x').hostname, '127.0.0.1');
  throwsWith(() => f.checkUrl('http://127.0.0.1:9001/x'), 'blocked', /127\.0\.0\.1 is a loopback/);
  assert.equal(f.checkUrl('http://[::1]:8080/x').hostname, '[::1]');
  throwsWith(() => f.checkUrl('http://[::1]/x'), 'blocked');
  assert.equal(f.checkUrl('http://media.lan:22/x').port, '22');
  const open = new SafeFetcher({ allowHosts: [], lookup: noDns });
  for (const ok of [
    'http://cdn.example/x',
    'https://cdn.example/x',
    'http://cdn.example:8080/x',
    'https://cdn.example:65535/x',
  ]) {
    assert.equal(open.checkUrl(ok).hostname, 'cdn.example');
  }
  for (const port of [22, 25, 110, 445, 1023]) {
    throwsWith(
      () => open.checkUrl(`http://cdn.example:${port}/x`),
      'blocked',
      new RegExp(`port ${port} is not allowed`),
    );
  }
});

test('documentation addresses are refused like private ones', () => {
  const f = new SafeFetcher({ allowHosts: [], lookup: noDns });
  for (const host of ['192.0.2.10', '198.51.100.7', '203.0.113.200', '[2001:db8::1]']) {
    throwsWith(() => f.checkUrl(`http://${host}/x`), 'blocked', /documentation address/);
  }
});

test('a redirect from https to plain http is refused; same scheme and upgrades are followed', () => {
  const from = new URL('https://cdn.example/a.mp4');
  assert.throws(
    () => redirectTarget(from, 'http://cdn.example/a.mp4'),
    (e: unknown) => e instanceof FetchError && e.kind === 'invalid_url' && /downgrade/.test(e.message),
  );
  assert.equal(redirectTarget(from, '/b.mp4').href, 'https://cdn.example/b.mp4');
  assert.equal(redirectTarget(new URL('http://cdn.example/a'), 'https://cdn.example/b').protocol, 'https:');
  assert.throws(
    () => redirectTarget(from, 'http://[::1'),
    (e: unknown) => e instanceof FetchError && e.kind === 'invalid_url',
  );
});

// ---- download -----------------------------------------------------------------------------------------

test('download streams the body to a file and reports bytes, type and final URL', async () => {
  const tmp = await scratch();
  let seen: IncomingMessage | undefined;
  const srv = await httpServer((req, res) => {
    seen = req;
    res.writeHead(200, { 'content-type': 'audio/wav' });
    res.end('RIFF....WAVEfmt ');
  });
  const dest = tmp.file();
  const f = loopbackAllowed({ userAgent: 'dhs-test/1' });
  const out = await f.download(`${srv.base}/a.wav?sig=1`, dest, big);
  assert.deepEqual(out, { bytes: 16, contentType: 'audio/wav', finalUrl: `${srv.base}/a.wav?sig=1` });
  assert.equal(await readFile(dest, 'utf8'), 'RIFF....WAVEfmt ');
  assert.equal(seen?.headers['accept-encoding'], 'identity');
  assert.equal(seen?.headers['user-agent'], 'dhs-test/1');
  assert.equal(seen?.headers.host, `127.0.0.1:${srv.port}`);
  await rm(dest);
});

test('an allow-listed literal in another spelling connects to the canonical address', async () => {
  const tmp = await scratch();
  const srv = await httpServer((_req, res) => res.end('ok'));
  const dest = tmp.file();
  const out = await loopbackAllowed().download(`http://2130706433:${srv.port}/x`, dest, big);
  assert.equal(out.bytes, 2);
  assert.equal(out.finalUrl, `http://127.0.0.1:${srv.port}/x`);
  await rm(dest);
});

test('blocked literal forms are refused by download and post without connecting', async () => {
  const tmp = await scratch();
  const srv = await httpServer((_req, res) => res.end('should not be reached'));
  const f = new SafeFetcher({ allowHosts: [], lookup: noDns });
  const hosts = ['2130706433', '0177.0.0.1', '0x7f.1', '127.1', '127.0.0.1', '[::ffff:127.0.0.1]'];
  for (const host of hosts) {
    const url = `http://${host}:${srv.port}/`;
    await rejectsWith(f.download(url, tmp.file(), big), 'blocked', /127\.0\.0\.1/);
    await rejectsWith(f.post(url, '{}', {}, { timeoutMs: 1000 }), 'blocked');
  }
  for (const url of ['http://[::1]/', 'http://169.254.169.254/latest/meta-data/']) {
    await rejectsWith(f.download(url, tmp.file(), big), 'blocked');
  }
  assert.equal(srv.connections, 0);
  assert.deepEqual(await tmp.left(), []);
});

test('a host name is checked by the lookup the socket uses: allowed by name, else blocked', async () => {
  const tmp = await scratch();
  const srv = await httpServer((_req, res) => res.end('via name'));
  const dns = fakeDns({ 'media.test': ['127.0.0.1'] });
  const dest = tmp.file();

  const refused = new SafeFetcher({ allowHosts: ['127.0.0.1'], lookup: dns });
  await rejectsWith(
    refused.download(`http://media.test:${srv.port}/v.mp4`, dest, big),
    'blocked',
    /host media\.test resolves to 127\.0\.0\.1, a loopback address/,
  );
  assert.equal(srv.connections, 0);
  assert.deepEqual(dns.calls, ['media.test']);

  const allowed = new SafeFetcher({ allowHosts: ['MEDIA.TEST'], lookup: dns });
  const out = await allowed.download(`http://media.test:${srv.port}/v.mp4`, dest, big);
  assert.equal(out.bytes, 8);
  assert.equal(srv.connections, 1, 'the connection went where the injected lookup said');
  assert.deepEqual(dns.calls, ['media.test', 'media.test']);
  await rm(dest);
});

test('a name with any blocked address among its answers is refused before connecting', async () => {
  const tmp = await scratch();
  const srv = await httpServer((_req, res) => res.end('x'));
  // the first answer is the loopback server: a fetcher that only checked some answers would connect to it
  const dns = fakeDns({ 'mixed.test': ['127.0.0.1', '93.184.216.34'] });
  const f = new SafeFetcher({ allowHosts: [], lookup: dns });
  await rejectsWith(f.download(`http://mixed.test:${srv.port}/`, tmp.file(), big), 'blocked', /127\.0\.0\.1/);
  await rejectsWith(f.post(`http://mixed.test:${srv.port}/`, '', {}, { timeoutMs: 1000 }), 'blocked');
  assert.equal(srv.connections, 0);
  assert.deepEqual(await tmp.left(), []);
});

test('DNS rebinding: a name that was public when checked but loopback at connect time is refused', async () => {
  const tmp = await scratch();
  const srv = await httpServer((_req, res) => res.end('secret'));
  // Answers 93.184.216.34 once, then 127.0.0.1 forever: a public address is handed out only to the
  // earlier check below, never to anything that could connect.
  let calls = 0;
  const rebinding: LookupFn = (_hostname, _options, callback) => {
    calls++;
    const address = calls === 1 ? '93.184.216.34' : '127.0.0.1';
    process.nextTick(callback, null, [{ address, family: 4 }]);
  };
  // the earlier check (e.g. at submission) saw a public address
  const first = await new Promise<LookupAddress[]>((resolve, reject) =>
    rebinding('rebind.test', { all: true }, (err, addrs) => (err ? reject(err) : resolve(addrs))),
  );
  assert.deepEqual(first, [{ address: '93.184.216.34', family: 4 }]);

  const f = new SafeFetcher({ allowHosts: ['127.0.0.1'], lookup: rebinding });
  assert.equal(f.checkUrl(`http://rebind.test:${srv.port}/`).hostname, 'rebind.test');
  assert.equal(calls, 1, 'checkUrl does no DNS');
  await rejectsWith(
    f.download(`http://rebind.test:${srv.port}/secret`, tmp.file(), big),
    'blocked',
    /rebind\.test resolves to 127\.0\.0\.1/,
  );
  assert.equal(calls, 2, 'the refusal came from the connect-time lookup');
  assert.equal(srv.connections, 0, 'no socket connected');
  assert.deepEqual(await tmp.left(), []);
});

test('redirects are followed and each hop is looked up again', async () => {
  const tmp = await scratch();
  const srv = await httpServer((req, res) => {
    if (req.url === '/a') res.writeHead(302, { location: '/b' }).end();
    else if (req.url === '/b') res.writeHead(307, { location: `http://hop.test:${srv.port}/c` }).end();
    else res.writeHead(200, { 'content-type': 'video/mp4' }).end('final');
  });
  const dns = fakeDns({ 'hop.test': ['127.0.0.1'] });
  const f = new SafeFetcher({ allowHosts: ['127.0.0.1', 'hop.test'], lookup: dns });
  const dest = tmp.file();
  const out = await f.download(`${srv.base}/a`, dest, big);
  assert.deepEqual(out, { bytes: 5, contentType: 'video/mp4', finalUrl: `http://hop.test:${srv.port}/c` });
  assert.deepEqual(srv.paths, ['/a', '/b', '/c']);
  assert.deepEqual(dns.calls, ['hop.test']);
  await rm(dest);
});

test('a redirect to a private literal address is refused without connecting to it', async () => {
  const tmp = await scratch();
  const srv = await httpServer((_req, res) =>
    res.writeHead(302, { location: 'http://10.0.0.1/admin' }).end(),
  );
  const f = loopbackAllowed();
  await rejectsWith(
    f.download(`${srv.base}/start`, tmp.file(), big),
    'blocked',
    /redirect from 127\.0\.0\.1:\d+: host 10\.0\.0\.1 is a private address/,
  );
  assert.deepEqual(srv.paths, ['/start']);
  assert.deepEqual(await tmp.left(), []);
});

test('a redirect to a name that resolves to a private address is refused at connect time', async () => {
  const tmp = await scratch();
  const srv = await httpServer((req, res) => {
    if (req.url === '/start') res.writeHead(301, { location: `http://internal.test:${srv.port}/x` }).end();
    else if (req.url === '/start2') res.writeHead(303, { location: `http://corp.test:${srv.port}/x` }).end();
    else res.end('internal data');
  });
  // Both names lead to the loopback server first: a fetcher that skipped the check would be caught by its
  // connection count, and would never get as far as trying the private address.
  const dns = fakeDns({ 'internal.test': ['127.0.0.1'], 'corp.test': ['127.0.0.1', '10.1.2.3'] });
  const f = new SafeFetcher({ allowHosts: ['127.0.0.1'], lookup: dns });
  await rejectsWith(
    f.download(`${srv.base}/start`, tmp.file(), big),
    'blocked',
    /internal\.test resolves to/,
  );
  await rejectsWith(
    f.download(`${srv.base}/start2`, tmp.file(), big),
    'blocked',
    /corp\.test resolves to 127\.0\.0\.1, a loopback address; 10\.1\.2\.3, a private address$/,
  );
  assert.deepEqual(dns.calls, ['internal.test', 'corp.test']);
  assert.deepEqual(srv.paths, ['/start', '/start2']);
  assert.equal(srv.connections, 2, 'only the two first hops connected');
  assert.deepEqual(await tmp.left(), []);
});

test('redirects to other schemes are refused', async () => {
  const tmp = await scratch();
  const srv = await httpServer((_req, res) => res.writeHead(302, { location: 'file:///etc/passwd' }).end());
  await rejectsWith(loopbackAllowed().download(srv.base, tmp.file(), big), 'invalid_url', /scheme file:/);
});

test('too many redirects', async () => {
  const tmp = await scratch();
  let n = 0;
  const srv = await httpServer((_req, res) => res.writeHead(302, { location: `/loop${++n}` }).end());
  const f = loopbackAllowed({ maxRedirects: 3 });
  await rejectsWith(
    f.download(`${srv.base}/`, tmp.file(), big),
    'too_many_redirects',
    /more than 3 redirects/,
  );
  assert.deepEqual(srv.paths, ['/', '/loop1', '/loop2', '/loop3']);

  const none = loopbackAllowed({ maxRedirects: 0 });
  await rejectsWith(none.download(`${srv.base}/`, tmp.file(), big), 'too_many_redirects');
  assert.deepEqual(await tmp.left(), []);
});

test('non-2xx answers fail with the status and leave no file', async () => {
  const tmp = await scratch();
  const srv = await httpServer((req, res) => {
    const status = Number(req.url?.slice(1));
    res.writeHead(status).end('nope');
  });
  const f = loopbackAllowed();
  for (const status of [404, 403, 500, 503, 304]) {
    const err = await rejectsWith(
      f.download(`${srv.base}/${status}`, tmp.file(), big),
      'http_status',
      new RegExp(`HTTP ${status}`),
    );
    assert.equal(err.status, status);
  }
  // a redirect status without a Location is an answer, not a redirect
  const noLocation = await httpServer((_req, res) => res.writeHead(302).end());
  const err = await rejectsWith(f.download(noLocation.base, tmp.file(), big), 'http_status');
  assert.equal(err.status, 302);
  assert.deepEqual(await tmp.left(), []);
});

test('a Content-Length over the cap is refused before reading the body', async () => {
  const tmp = await scratch();
  // the head promises 1000 bytes that never come: only a refusal on the header can end this quickly
  const srv = await httpServer((_req, res) => {
    res.writeHead(200, { 'content-length': '1000' });
    res.flushHeaders();
  });
  await rejectsWith(
    loopbackAllowed().download(srv.base, tmp.file(), { maxBytes: 999, timeoutMs: 5_000 }),
    'too_large',
    /file is over 999 bytes/,
  );
  assert.deepEqual(await tmp.left(), []);
});

test('exactly maxBytes is fine', async () => {
  const tmp = await scratch();
  const srv = await httpServer((_req, res) => res.end(Buffer.alloc(1000, 1)));
  const dest = tmp.file();
  const out = await loopbackAllowed().download(srv.base, dest, { maxBytes: 1000, timeoutMs: 5_000 });
  assert.equal(out.bytes, 1000);
  await rm(dest);
});

test('a server that sends forever without Content-Length is cut at the cap and the file removed', async () => {
  const tmp = await scratch();
  let serverSawClose: Promise<void> | undefined;
  const srv = await httpServer((req, res) => {
    res.writeHead(200, { 'content-type': 'video/mp4' }); // chunked, no length
    serverSawClose = respondForever(res, Buffer.alloc(16 * 1024, 7));
  });
  const dest = tmp.file();
  await rejectsWith(
    loopbackAllowed().download(srv.base, dest, { maxBytes: 100_000, timeoutMs: 10_000 }),
    'too_large',
    /file is over 100000 bytes/,
  );
  await serverSawClose;
  assert.deepEqual(await tmp.left(), []);
});

test('a server that lies about Content-Length cannot send more than it declared', async () => {
  const tmp = await scratch();
  let serverSawClose: Promise<void> | undefined;
  const srv = await rawServer((s) => {
    s.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 10\r\n\r\n0123456789');
    serverSawClose = sendForever(s, Buffer.alloc(16 * 1024, 0x41));
  });
  const dest = tmp.file();
  const out = await loopbackAllowed().download(srv.base, dest, { maxBytes: 100_000, timeoutMs: 10_000 });
  assert.equal(out.bytes, 10);
  assert.equal(await readFile(dest, 'utf8'), '0123456789');
  await serverSawClose; // the fetcher hung up instead of reading the rest
  await rm(dest);
});

test('an endless chunked body from a raw socket is cut at the cap', async () => {
  const tmp = await scratch();
  let serverSawClose: Promise<void> | undefined;
  const srv = await rawServer((s) => {
    s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n');
    const chunk = Buffer.alloc(8 * 1024, 0x42);
    serverSawClose = sendForever(s, Buffer.concat([Buffer.from('2000\r\n'), chunk, Buffer.from('\r\n')]));
  });
  await rejectsWith(
    loopbackAllowed().download(srv.base, tmp.file(), { maxBytes: 50_000, timeoutMs: 10_000 }),
    'too_large',
  );
  await serverSawClose;
  assert.deepEqual(await tmp.left(), []);
});

test('conflicting Content-Length and chunked framing is refused as a protocol error (not retried)', async () => {
  const tmp = await scratch();
  const srv = await rawServer((s) => {
    s.end(
      'HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    );
  });
  await rejectsWith(loopbackAllowed().download(srv.base, tmp.file(), big), 'protocol');
  assert.deepEqual(await tmp.left(), []);
});

test('a body cut short by the server is a network error and leaves no file', async () => {
  const tmp = await scratch();
  const srv = await rawServer((s) => {
    s.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part');
  });
  await rejectsWith(loopbackAllowed().download(srv.base, tmp.file(), big), 'network');
  assert.deepEqual(await tmp.left(), []);
});

test('a destination that cannot be written is a local error, not a fetch failure', async () => {
  const srv = await httpServer((_req, res) => res.end('data'));
  const err = await loopbackAllowed()
    .download(srv.base, join(dir, 'no-such-dir', 'x.bin'), big)
    .then(
      () => assert.fail('expected a failure'),
      (e: unknown) => e,
    );
  assert.ok(!(err instanceof FetchError));
  assert.equal((err as NodeJS.ErrnoException).code, 'ENOENT');
});

test('a server that never answers hits the total timeout', async () => {
  const tmp = await scratch();
  const srv = await httpServer(() => {
    /* never answers */
  });
  // The message names the limit that fired (the caller's 200 ms); no wall-clock bound here.
  await rejectsWith(
    loopbackAllowed().download(srv.base, tmp.file(), { maxBytes: 1000, timeoutMs: 200 }),
    'timeout',
    /did not complete within 200 ms/,
  );
  await rejectsWith(loopbackAllowed().post(srv.base, 'x', {}, { timeoutMs: 200 }), 'timeout');
  assert.deepEqual(await tmp.left(), []);
});

test('a body that stalls half way hits the total timeout and the partial file is removed', async () => {
  const tmp = await scratch();
  const srv = await httpServer((_req, res) => {
    res.writeHead(200, { 'content-length': '100' });
    res.write('half');
  });
  await rejectsWith(
    loopbackAllowed().download(srv.base, tmp.file(), { maxBytes: 1000, timeoutMs: 300 }),
    'timeout',
  );
  assert.deepEqual(await tmp.left(), []);
});

/** Sends `body` one byte every `everyMs` (after the head), for as long as the client stays. */
function trickle(res: ServerResponse, body: Buffer, everyMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (res.destroyed || i >= body.length) {
      clearInterval(timer);
      if (!res.destroyed) res.end();
      return;
    }
    res.write(body.subarray(i, ++i));
  }, everyMs);
  res.once('close', () => clearInterval(timer));
}

// The size deadline, scaled down: 300 ms of grace and 1000 bytes a second.
const paced = () => loopbackAllowed({ downloadGraceMs: 300, minBytesPerSec: 1000 });

test('a trickling body is cut at its size deadline (grace + declared size / minimum rate)', async () => {
  const tmp = await scratch();
  const srv = await httpServer((_req, res) => {
    res.writeHead(200, { 'content-length': '700' });
    trickle(res, Buffer.alloc(700, 1), 50); // 20 bytes a second: 35 s to finish
  });
  // deadline 0.3 s + 700 B / (1000 B/s) = 1 s: about 20 bytes have come by then. The caller's own
  // timeout (30 s) or a deadline from maxBytes (10 s) would have let about 200 through.
  const err = await rejectsWith(
    paced().download(srv.base, tmp.file(), { maxBytes: 10_000, timeoutMs: 30_000 }),
    'too_slow',
    /download too slow: \d+ of 700 bytes in \d+\.\d s; a download must average 1 KB\/s after its first 0\.3 s/,
  );
  const received = Number(/too slow: (\d+) of/.exec(err.message)?.[1]);
  assert.ok(received < 100, `cut by the size deadline: ${err.message}`);
  assert.deepEqual(await tmp.left(), [], 'the partial file is removed');
});

test('without Content-Length the deadline follows the bytes received: a trickle is cut near the grace', async () => {
  const tmp = await scratch();
  const srv = await httpServer((_req, res) => {
    res.writeHead(200); // chunked
    trickle(res, Buffer.alloc(10_000, 1), 50);
  });
  const err = await rejectsWith(
    paced().download(srv.base, tmp.file(), { maxBytes: 10_000, timeoutMs: 30_000 }),
    'too_slow',
  );
  // about 0.3 s + a few bytes' worth (a dozen bytes); a deadline from maxBytes (10 s) would let 200 in
  const received = Number(/too slow: (\d+) bytes/.exec(err.message)?.[1]);
  assert.ok(received < 100, `cut near the grace: ${err.message}`);
  assert.deepEqual(await tmp.left(), []);
});

test('a download that keeps the minimum rate is not cut, however long it takes past the grace', async () => {
  const tmp = await scratch();
  const srv = await httpServer((_req, res) => {
    res.writeHead(200); // chunked: 200 bytes every 100 ms = 2000 B/s, twice the minimum, for 0.6 s
    let sent = 0;
    const timer = setInterval(() => {
      if (sent >= 1200) {
        clearInterval(timer);
        res.end();
        return;
      }
      res.write(Buffer.alloc(200, 2));
      sent += 200;
    }, 100);
    res.once('close', () => clearInterval(timer));
  });
  const started = performance.now();
  const got = await paced().download(srv.base, tmp.file(), { maxBytes: 10_000, timeoutMs: 30_000 });
  assert.equal(got.bytes, 1200);
  assert.ok(performance.now() - started > 500, 'it ran past the 300 ms grace');
});

test('a lookup that never answers hits the connect timeout', async () => {
  const tmp = await scratch();
  const hanging: LookupFn = () => {
    /* never calls back */
  };
  const f = new SafeFetcher({ allowHosts: [], lookup: hanging, connectTimeoutMs: 100 });
  await rejectsWith(
    f.download('http://slow.test/', tmp.file(), { maxBytes: 1000, timeoutMs: 10_000 }),
    'timeout',
    /could not connect to slow\.test within 100 ms/,
  );
});

test('an unknown name and a refused connection are network errors', async () => {
  const tmp = await scratch();
  const f = new SafeFetcher({ allowHosts: ['127.0.0.1'], lookup: fakeDns({}) });
  await rejectsWith(
    f.download('http://nowhere.test/', tmp.file(), big),
    'network',
    /cannot resolve host nowhere\.test/,
  );

  const srv = await httpServer(() => {});
  const closedPort = srv.port;
  await srv.close();
  await rejectsWith(f.download(`http://127.0.0.1:${closedPort}/`, tmp.file(), big), 'network', /refused/);
  await rejectsWith(f.post(`http://127.0.0.1:${closedPort}/`, '', {}, { timeoutMs: 1000 }), 'network');
  assert.deepEqual(await tmp.left(), []);
});

test('the caller can abort a download, before or during the request', async () => {
  const tmp = await scratch();
  const srv = await httpServer((_req, res) => {
    res.writeHead(200);
    res.write('some');
  });
  const f = loopbackAllowed();
  const pre = new AbortController();
  pre.abort(new Error('shutting down'));
  await rejectsWith(
    f.download(srv.base, tmp.file(), { ...big, signal: pre.signal }),
    'network',
    /shutting down/,
  );
  assert.equal(srv.connections, 0);

  const ctl = new AbortController();
  const p = f.download(srv.base, tmp.file(), { ...big, signal: ctl.signal });
  await waitFor(() => srv.paths.length === 1);
  ctl.abort();
  await rejectsWith(p, 'network', /aborted/);
  assert.deepEqual(await tmp.left(), []);
});

/** Polls a condition on the event loop (no timers), failing after a deadline. */
async function waitFor(cond: () => boolean, deadlineMs = 5_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > end) assert.fail('condition not met before the deadline');
    await new Promise((r) => setImmediate(r));
  }
}

// ---- post ---------------------------------------------------------------------------------------------

test('post sends the body with its headers and returns the status and a snippet', async () => {
  let received = '';
  let headers: IncomingMessage['headers'] = {};
  const srv = await httpServer((req, res) => {
    headers = req.headers;
    req.setEncoding('utf8');
    req.on('data', (d: string) => (received += d));
    req.on('end', () => res.writeHead(500, { 'content-type': 'text/plain' }).end('internal error: 数据库'));
  });
  const body = JSON.stringify({ code: 0, message: '成功' });
  const out = await loopbackAllowed().post(
    `${srv.base}/hook`,
    body,
    { 'Content-Type': 'application/json', 'X-Signature': 'abc' },
    { timeoutMs: 5_000 },
  );
  assert.deepEqual(out, { status: 500, bodySnippet: 'internal error: 数据库' });
  assert.equal(received, body);
  assert.equal(headers['content-type'], 'application/json');
  assert.equal(headers['x-signature'], 'abc');
  assert.equal(headers['content-length'], String(Buffer.byteLength(body)));
  assert.equal(headers['accept-encoding'], 'identity');
});

test('post returns a 302 as it is, without following it', async () => {
  const srv = await httpServer((req, res) => {
    if (req.url === '/hook') res.writeHead(302, { location: '/elsewhere' }).end('moved');
    else res.end('followed');
  });
  const out = await loopbackAllowed().post(`${srv.base}/hook`, '{}', {}, { timeoutMs: 5_000 });
  assert.deepEqual(out, { status: 302, bodySnippet: 'moved' });
  assert.deepEqual(srv.paths, ['/hook']);
});

test('post keeps only the first 512 bytes of an endless answer, never splitting a character', async () => {
  const srv = await httpServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('a');
    void respondForever(res, Buffer.from('€'.repeat(1000)));
  });
  const out = await loopbackAllowed().post(srv.base, '', {}, { timeoutMs: 5_000 });
  assert.equal(out.status, 200);
  // 'a' + 170 whole '€' (3 bytes each) = 511 bytes; the 512th byte starts a character and is dropped
  assert.equal(out.bodySnippet, `a${'€'.repeat(170)}`);
});

test('post refuses bad URLs and names resolving to private addresses', async () => {
  const srv = await httpServer((_req, res) => res.end('should not be reached'));
  const dns = fakeDns({ 'hook.test': ['127.0.0.1', '192.168.0.10'] });
  const f = new SafeFetcher({ allowHosts: [], lookup: dns });
  await rejectsWith(f.post('ftp://x/', '', {}, { timeoutMs: 1000 }), 'invalid_url');
  await rejectsWith(f.post(`http://[::1]:${srv.port}/`, '', {}, { timeoutMs: 1000 }), 'blocked');
  await rejectsWith(
    f.post(`http://hook.test:${srv.port}/cb`, '{}', {}, { timeoutMs: 1000 }),
    'blocked',
    /192\.168\.0\.10, a private address/,
  );
  assert.deepEqual(dns.calls, ['hook.test']);
  assert.equal(srv.connections, 0);
});
