import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openTestDatabase, type TestDatabase } from '../../test/helpers/db.ts';
import { AccountsRepository } from '../repositories/accounts.repository.ts';
import { AvatarsRepository } from '../repositories/avatars.repository.ts';
import { LocalDiskBlobStore } from '../repositories/blobs.ts';
import { ManualClock } from '../repositories/clock.ts';
import { cryptoRandom } from '../repositories/random.ts';
import { AvatarCacheStore, fileSha256 } from './avatar-cache.ts';

describe('avatar cache store', () => {
  let tdb: TestDatabase;
  let store: AvatarCacheStore;
  let clock: ManualClock;
  let accountId: string;
  let blobRoot: string;

  before(async () => {
    tdb = await openTestDatabase('sqlite');
    clock = new ManualClock(Date.UTC(2026, 5, 1));
    const blobs = new LocalDiskBlobStore(tdb.dataDir, 'http://localhost');
    blobRoot = join(tdb.dataDir, 'blobs');
    store = new AvatarCacheStore(
      new AvatarsRepository(tdb.database, clock, cryptoRandom),
      blobs,
      cryptoRandom,
    );
    accountId = (
      await new AccountsRepository(tdb.database, clock, cryptoRandom).create({ points: 0, lite: 0, pro: 0 })
    ).userId;
  });
  after(async () => tdb.cleanup());

  async function file(name: string, text: string): Promise<string> {
    const p = join(tdb.dataDir, name);
    await writeFile(p, text);
    return p;
  }

  test('parts with files round-trip; the first stored part wins; new content starts afresh', async () => {
    const cache = await store.open(accountId, 'https://x/v.mp4', 'hash1');
    assert.equal(await cache.getPart('track'), null);
    const meta = await cache.putPart('track', { n: 1 }, { 'a.bin': await file('a', 'AAA') });
    assert.deepEqual(meta, { n: 1 });
    assert.deepEqual(await cache.getPart('track'), { n: 1 });
    const dest = join(tdb.dataDir, 'out.bin');
    assert.equal(await cache.fetchFile('track', 'a.bin', dest), true);
    assert.equal(await readFile(dest, 'utf8'), 'AAA');
    assert.equal(await cache.fetchFile('track', 'nope.bin', dest), false);

    // a second job that prepared the same part meanwhile: theirs is kept, its files discarded
    const again = await store.open(accountId, 'https://x/v.mp4', 'hash1');
    assert.equal(again.id, cache.id);
    assert.deepEqual(await again.putPart('track', { n: 2 }, { 'a.bin': await file('b', 'BBB') }), { n: 1 });
    assert.equal(await again.fetchFile('track', 'a.bin', dest), true);
    assert.equal(await readFile(dest, 'utf8'), 'AAA');

    const changed = await store.open(accountId, 'https://x/v.mp4', 'hash2');
    assert.notEqual(changed.id, cache.id);
    assert.equal(await changed.getPart('track'), null);
    assert.equal(existsSync(join(blobRoot, 'avatars', cache.id)), false, "the old content's files are gone");
  });

  test('a part whose files vanished is forgotten and made again', async () => {
    const cache = await store.open(accountId, 'https://x/lost.mp4', 'h');
    await cache.putPart('samples', { ok: true }, { 's.bin': await file('s', 'S') });
    await rm(join(blobRoot, 'avatars', cache.id), { recursive: true, force: true });
    assert.equal(await cache.getPart('samples'), null);
    assert.deepEqual(await cache.putPart('samples', { ok: 2 }, { 's.bin': await file('s2', 'T') }), {
      ok: 2,
    });
  });

  test('bad part and file names are refused', async () => {
    const cache = await store.open(accountId, 'https://x/n.mp4', 'h');
    await assert.rejects(cache.getPart('../x'));
    await assert.rejects(cache.putPart('ok', {}, { '../../etc': '/dev/null' }));
  });

  test('the sweep deletes avatars unused for the TTL, rows and files', async () => {
    const cache = await store.open(accountId, 'https://x/old.mp4', 'h');
    await cache.putPart('p', {}, { 'f.bin': await file('f', 'F') });
    clock.advance(10 * 86_400_000);
    const fresh = await store.open(accountId, 'https://x/new.mp4', 'h');
    const removed = await store.sweep(clock.now() - 5 * 86_400_000);
    assert.ok(removed >= 1);
    assert.equal(existsSync(join(blobRoot, 'avatars', cache.id)), false);
    assert.equal(await fresh.getPart('p'), null);
    const reopened = await store.open(accountId, 'https://x/old.mp4', 'h');
    assert.notEqual(reopened.id, cache.id, 'swept: prepared again');
  });

  test('fileSha256 streams a file', async () => {
    assert.equal(
      await fileSha256(await file('h', 'abc')),
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });
});
