import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((res) => server.close(() => res()));
}

/** A loopback server of test media: `/name` serves the file mapped to it. */
export async function startFileServer(files: Record<string, string>) {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const file = files[(req.url ?? '').split('?')[0]?.slice(1) ?? ''];
    if (file === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-length': statSync(file).size, 'content-type': 'application/octet-stream' });
    createReadStream(file).pipe(res);
  });
  const base = await listen(server);
  return {
    url: (name: string) => `${base}/${name}`,
    requests,
    close: () => close(server),
  };
}

export interface ReceivedCallback {
  headers: IncomingMessage['headers'];
  body: string;
  answered: number;
}

/** A loopback callback receiver that answers 500 to the first `failFirst` deliveries. */
export async function startCallbackReceiver(opts: { failFirst?: number } = {}) {
  const received: ReceivedCallback[] = [];
  const listeners: Array<() => void> = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answered = received.length < (opts.failFirst ?? 0) ? 500 : 200;
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), answered });
      res.writeHead(answered).end(answered === 200 ? 'ok' : 'try later');
      for (const l of listeners.splice(0)) l();
    });
  });
  const base = await listen(server);
  return {
    url: (path = '/hook') => `${base}${path}`,
    received,
    /** Resolves once `n` deliveries have arrived (rejects after `timeoutMs`). */
    async waitFor(n: number, timeoutMs = 30_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (received.length < n) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`expected ${n} callbacks, got ${received.length}`);
        await new Promise<void>((res) => {
          const timer = setTimeout(res, left);
          listeners.push(() => {
            clearTimeout(timer);
            res();
          });
        });
      }
    },
    close: () => close(server),
  };
}
