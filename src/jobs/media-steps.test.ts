import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { AppError, ErrorCode } from '../domain/errors.ts';
import type { MediaTool } from '../repositories/media.ts';
import { SafeFetcher } from '../repositories/safe-fetcher.ts';
import { fetchAndProbe } from './media-steps.ts';

// A server whose every answer trickles: a declared 100 KB body sent one byte every 50 ms.
let server: Server;
let base = '';
let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dhs-media-steps-'));
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': '100000' });
    const timer = setInterval(() => res.write('x'), 50);
    res.once('close', () => clearInterval(timer));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  server.close();
  await rm(dir, { recursive: true, force: true });
});

// the size deadline scaled down: 300 ms + 100 KB at 200 KB/s = 0.8 s
const fetcher = new SafeFetcher({ allowHosts: ['127.0.0.1'], downloadGraceMs: 300, minBytesPerSec: 200_000 });
const media = new Proxy({} as MediaTool, {
  get: () => () => assert.fail('nothing is probed after a failed download'),
});

for (const [role, code] of [
  ['audio', ErrorCode.AUDIO_FETCH_FAILED],
  ['video', ErrorCode.VIDEO_FETCH_FAILED],
] as const) {
  test(`a trickling ${role} download ends the job with ${code}, not retried, nothing left`, async () => {
    const own = await mkdtemp(join(dir, `${role}-`));
    const err = await fetchAndProbe(
      { fetcher, media },
      role,
      `${base}/${role}`,
      own,
      new AbortController().signal,
    ).then(
      () => assert.fail('expected the download to be cut'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.code, code);
    assert.equal(err.retryable, false, 'a trickle is not tried again');
    // cut at the size deadline ('too slow'), not by the 15 min cap (which says 'did not complete'); no
    // wall-clock bound, which a loaded machine would break
    assert.match(err.detail.en, /too slow/);
    assert.deepEqual(await readdir(own), [], 'the partial download is removed');
  });
}
