import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { tempDir } from './db.ts';

/**
 * s3rver (npm) as the stand-in for S3 / MinIO: the S3 HTTP protocol on a free loopback port, objects
 * in a temp folder, one bucket. It runs in a child process of its own, so the test process's memory
 * is the store client's alone, and with `--openssl-legacy-provider`: s3rver makes its ListObjectsV2
 * continuation tokens with DES, which OpenSSL 3 keeps in the legacy provider. The child exits when
 * this process does (its stdin closes). s3rver knows one access key, S3RVER, and does not check V4
 * signatures, so any secret works.
 */
export interface S3rverInstance {
  endpoint: string;
  bucket: string;
  /** The client settings that reach it (path-style addressing). */
  client: S3ClientConfig;
  /** The environment a dhs process needs to use it (the SDK's standard AWS_* and DHS_BLOB_URL). */
  env(prefix: string): Record<string, string>;
  stop(): Promise<void>;
}

const CHILD = `
const [, s3rverPath, directory, bucket] = process.argv;
const S3rver = require(s3rverPath);
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
server.run().then(
  (a) => process.stdout.write(JSON.stringify({ port: a.port }) + '\\n'),
  (err) => { console.error(err); process.exit(1); },
);
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

export async function startS3rver(bucket = 'dhs-test'): Promise<S3rverInstance> {
  const dir = tempDir('dhs-s3rver-');
  const s3rverPath = createRequire(import.meta.url).resolve('s3rver');
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', CHILD, s3rverPath, dir, bucket], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`s3rver exited (${code}) before listening`)));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  return {
    endpoint,
    bucket,
    client: { endpoint, region: 'us-east-1', forcePathStyle: true, credentials },
    env: (prefix) => ({
      DHS_BLOB_URL: `s3://${bucket}/${prefix}`,
      DHS_S3_FORCE_PATH_STYLE: 'true',
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    }),
    async stop() {
      child.stdin.end();
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
