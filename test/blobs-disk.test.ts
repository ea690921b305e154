import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { openBlobStore } from '../src/repositories/blob-stores.ts';
import { LocalDiskBlobStore } from '../src/repositories/blobs.ts';
import { blobStoreContract, scratchIn } from './contract/blobs.contract.ts';
import { tempDir } from './helpers/db.ts';

blobStoreContract('local disk', async () => {
  const root = tempDir('dhs-blobs-disk-');
  return {
    store: new LocalDiskBlobStore(join(root, 'data'), 'http://127.0.0.1:9'),
    scratch: scratchIn(root),
    close: async () => rmSync(root, { recursive: true, force: true }),
  };
});

test('DHS_BLOB_URL=file:///path puts the blobs there; the default is $DHS_DATA_DIR/blobs', async () => {
  const root = tempDir('dhs-blobs-url-');
  try {
    const dataDir = join(root, 'data');
    const elsewhere = join(root, 'shared blobs');
    const env = { DHS_DATA_DIR: dataDir, DHS_PUBLIC_URL: 'http://dhs.example' };
    const config = loadConfig({ ...env, DHS_BLOB_URL: pathToFileURL(elsewhere).href });
    assert.deepEqual(config.blobs, { kind: 'file', root: elsewhere });
    const store = openBlobStore(config.blobs, config);
    const src = join(scratchIn(root), 'video.mp4');
    writeFileSync(src, 'v');
    await store.put('results/ab12/video.mp4', src);
    assert.ok(existsSync(join(elsewhere, 'results', 'ab12', 'video.mp4')));
    assert.equal(existsSync(join(dataDir, 'blobs')), false);
    assert.equal(
      store.publicUrl('results/ab12/video.mp4'),
      'http://dhs.example/files/results/ab12/video.mp4',
    );

    assert.deepEqual(loadConfig(env).blobs, { kind: 'file', root: join(dataDir, 'blobs') });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('blob settings are checked at start: a bad value names its variable', () => {
  const base = { DHS_DATA_DIR: '/tmp/dhs-config-test' };
  const fails = (env: Record<string, string>, variable: string) =>
    assert.throws(
      () => loadConfig({ ...base, ...env }),
      (err: Error) => err.name === 'ConfigError' && err.message.includes(variable),
      JSON.stringify(env),
    );
  fails({ DHS_RESULT_URLS: 'presigned' }, 'DHS_RESULT_URLS');
  fails({ DHS_RESULT_URLS: 'presigned', DHS_BLOB_URL: 'file:///srv/blobs' }, 'DHS_RESULT_URLS');
  fails({ DHS_RESULT_URLS: 'signed' }, 'DHS_RESULT_URLS');
  for (const url of [
    'ftp://host/x',
    '/srv/blobs',
    'file://relative/blobs',
    'file:///',
    's3://Bad_Bucket/x',
    's3://ab/x',
    's3://key:secret@bucket/x',
    's3://bucket:9000/x',
    's3://bucket/x?region=eu',
    's3://bucket/a b',
  ]) {
    fails({ DHS_BLOB_URL: url }, 'DHS_BLOB_URL');
  }
  fails({ DHS_S3_FORCE_PATH_STYLE: 'yes' }, 'DHS_S3_FORCE_PATH_STYLE');
  fails({ DHS_RESULT_URL_TTL: '604801' }, 'DHS_RESULT_URL_TTL');

  const s3 = loadConfig({ ...base, DHS_BLOB_URL: 's3://my-bucket/dhs/prod/', DHS_RESULT_URLS: 'presigned' });
  assert.deepEqual(s3.blobs, {
    kind: 's3',
    bucket: 'my-bucket',
    prefix: 'dhs/prod',
    forcePathStyle: false,
    region: undefined,
  });
  assert.deepEqual(s3.resultUrls, { mode: 'presigned', ttlSec: 86_400 });
  // an endpoint of one's own without a region: us-east-1 (MinIO and the like accept any)
  const minio = loadConfig({
    ...base,
    DHS_BLOB_URL: 's3://media',
    DHS_S3_FORCE_PATH_STYLE: 'true',
    AWS_ENDPOINT_URL_S3: 'http://minio.lan:9000',
  });
  assert.deepEqual(minio.blobs, {
    kind: 's3',
    bucket: 'media',
    prefix: '',
    forcePathStyle: true,
    region: 'us-east-1',
  });
  assert.deepEqual(loadConfig(base).resultUrls, { mode: 'public', ttlSec: 86_400 });
});
