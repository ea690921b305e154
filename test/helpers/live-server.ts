import { createServer } from 'node:net';
import { createHarness, type Harness } from './harness.ts';

/** A port free right now on 127.0.0.1 (the server's public URL must name it before it listens). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((res) => probe.listen(0, '127.0.0.1', res));
  const address = probe.address();
  await new Promise<void>((res) => probe.close(() => res()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * The in-process server (test/helpers/harness.ts: real runtime, SQLite, the system clock, a worker)
 * listening on a real port, for clients that speak HTTP: the SDK and the customer CLI. Result URLs
 * point at it. Lip sync is `passthrough` (fast) unless `env` says otherwise.
 */
export async function startLiveServer(
  env: Record<string, string> = {},
): Promise<{ h: Harness; url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const h = await createHarness({
    worker: true,
    realClock: true,
    env: {
      DHS_PUBLIC_URL: url,
      DHS_LIPSYNC_ENGINE: 'passthrough',
      DHS_REPEAT_WINDOW_MS: '0',
      DHS_MAX_PENDING_WORKS: '100',
      ...env,
    },
  });
  await h.app.listen({ port, host: '127.0.0.1' });
  return { h, url };
}
