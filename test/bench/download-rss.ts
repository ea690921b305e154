/**
 * Child process of `npm run bench`: downloads 500 MB from a loopback server through the SafeFetcher
 * and reports the peak resident memory seen while it streams to disk. Prints one JSON line.
 */
import { rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SafeFetcher } from '../../src/repositories/safe-fetcher.ts';

const SIZE = 500 * 1024 * 1024;
const chunk = Buffer.alloc(1024 * 1024, 0x5a);
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-length': String(SIZE), 'content-type': 'video/mp4' });
  let sent = 0;
  const pump = () => {
    while (sent < SIZE) {
      sent += chunk.length;
      if (!res.write(chunk)) return;
    }
    res.end();
  };
  res.on('drain', pump);
  pump();
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/big.mp4`;
const file = join(tmpdir(), `dhs-bench-download-${process.pid}.bin`);
const rssBefore = process.memoryUsage().rss;
let peak = rssBefore;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 20);
const t0 = performance.now();
const res = await new SafeFetcher({ allowHosts: ['127.0.0.1'] }).download(url, file, {
  maxBytes: SIZE + 1,
  timeoutMs: 600_000,
});
const seconds = (performance.now() - t0) / 1000;
clearInterval(sampler);
peak = Math.max(peak, process.memoryUsage().rss);
const size = statSync(file).size;
rmSync(file, { force: true });
server.close();
console.log(
  JSON.stringify({
    bytes: res.bytes,
    size,
    seconds,
    rssBeforeMb: rssBefore / 2 ** 20,
    peakRssMb: peak / 2 ** 20,
  }),
);
