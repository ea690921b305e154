import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AppError } from '../../src/domain/errors.ts';
import { JobStatus } from '../../src/domain/jobs.ts';
import { AccountsRepository } from '../../src/repositories/accounts.repository.ts';
import { AvatarsRepository } from '../../src/repositories/avatars.repository.ts';
import { CallbacksRepository } from '../../src/repositories/callbacks.repository.ts';
import { ManualClock } from '../../src/repositories/clock.ts';
import { JobsRepository, type SubmitJobInput } from '../../src/repositories/jobs.repository.ts';
import { LedgerRepository } from '../../src/repositories/ledger.repository.ts';
import { QueueRepository } from '../../src/repositories/queue.repository.ts';
import { cryptoRandom } from '../../src/repositories/random.ts';
import { TokensRepository } from '../../src/repositories/tokens.repository.ts';
import { UploadsRepository } from '../../src/repositories/uploads.repository.ts';
import { VoicesRepository } from '../../src/repositories/voices.repository.ts';
import { openTestDatabase, type TestDatabase } from '../helpers/db.ts';

const noCallback = () => null;

/**
 * One contract, every backend: the same repository behaviour on SQLite and PostgreSQL (CONVENTIONS
 * "One port, several adapters, one contract suite").
 */
export function repositoryContract(kind: 'sqlite' | 'postgres'): void {
  describe(`repositories on ${kind}`, () => {
    let tdb: TestDatabase;
    let clock: ManualClock;
    let accounts: AccountsRepository;
    let jobs: JobsRepository;
    let voices: VoicesRepository;
    let queue: QueueRepository;
    let ledger: LedgerRepository;
    let tokens: TokensRepository;

    before(async () => {
      tdb = await openTestDatabase(kind);
      clock = new ManualClock(Date.UTC(2026, 5, 1));
      queue = new QueueRepository(tdb.database, clock, cryptoRandom);
      accounts = new AccountsRepository(tdb.database, clock, cryptoRandom);
      jobs = new JobsRepository(tdb.database, queue, clock, cryptoRandom);
      voices = new VoicesRepository(tdb.database, queue, clock, cryptoRandom);
      ledger = new LedgerRepository(tdb.database);
      tokens = new TokensRepository(tdb.database, clock);
    });
    after(async () => tdb.cleanup());

    const submission = (
      accountId: string,
      points: number,
      over: Partial<SubmitJobInput> = {},
    ): SubmitJobInput => ({
      id: `w_${cryptoRandom.bytes(8).toString('hex')}`,
      accountId,
      type: 'WORK',
      mode: 'text',
      params: {},
      title: 't',
      callbackUrl: '',
      reservePoints: points,
      limits: { maxRunning: 100, maxPending: 1000 },
      queue: { kind: 'work', maxAttempts: 3 },
      ...over,
    });

    test('accounts: create, topup, quota, disable; balance equals the ledger sum', async () => {
      const a = await accounts.create({ points: 100, lite: 2, pro: 1 });
      const row = await accounts.findByAccessKey(a.accessKey);
      assert.equal(row?.balance, 100);
      assert.equal((await accounts.topup(a.accessKey, 50)).balance, 150);
      await assert.rejects(
        accounts.topup(a.accessKey, -1000),
        (e: unknown) => e instanceof AppError && e.code === 20005,
      );
      const q = await accounts.setQuota(a.accessKey, { lite: 5 });
      assert.equal(q.lite_total, 5);
      assert.equal(q.pro_total, 1);
      assert.equal(await ledger.sum(a.userId), 150);
      await accounts.disable(a.accessKey);
      assert.equal((await accounts.findByAccessKey(a.accessKey))?.disabled, 1);
      await assert.rejects(
        accounts.topup('nope', 1),
        (e: unknown) => e instanceof AppError && e.code === 20001,
      );
    });

    test('tokens: stored by hash, expire, replayed signatures refused', async () => {
      const a = await accounts.create({ points: 0, lite: 0, pro: 0 });
      await tokens.insert('hash1', a.userId, clock.now() + 1000);
      assert.equal((await tokens.findAccount('hash1'))?.id, a.userId);
      clock.advance(1001);
      assert.equal(await tokens.findAccount('hash1'), null);
      assert.equal(await tokens.recordSignature('sig1', clock.now() + 5000), true);
      assert.equal(await tokens.recordSignature('sig1', clock.now() + 5000), false);
      assert.ok((await tokens.prune()) >= 1);
    });

    test('jobs: reserve at submission, settle once on success, refund once on failure', async () => {
      const a = await accounts.create({ points: 30, lite: 0, pro: 0 });
      const j1 = await jobs.submit(submission(a.userId, 10));
      assert.equal((await accounts.findById(a.userId))?.balance, 20);
      await jobs.markRunning(j1.id);
      const done = await jobs.complete(
        j1.id,
        { resultUrl: 'u', resultKey: 'k', durationSec: 7.2 },
        noCallback,
      );
      assert.equal(done.status, JobStatus.DONE);
      assert.equal(done.fee, 8);
      assert.equal(done.duration, 8);
      assert.equal(done.engine_note, null, 'no engine note unless the local engine stood in');
      // a second completion (a retried handler) changes nothing
      await jobs.complete(j1.id, { resultUrl: 'u', resultKey: 'k', durationSec: 9 }, noCallback);
      await jobs.fail(j1.id, 20902, { zh: '晚了', en: 'late' }, noCallback);
      assert.equal((await accounts.findById(a.userId))?.balance, 22);

      // made by the local engine in place of an unreachable remote one: the note is kept
      const b = await accounts.create({ points: 5, lite: 0, pro: 0 });
      const noted = await jobs.submit(submission(b.userId, 1));
      await jobs.complete(
        noted.id,
        { resultUrl: 'u', resultKey: 'k', durationSec: 1, engineNote: { zh: '本地', en: 'local' } },
        noCallback,
      );
      assert.deepEqual(JSON.parse((await jobs.get(noted.id))?.engine_note ?? 'null'), {
        zh: '本地',
        en: 'local',
      });

      const j2 = await jobs.submit(submission(a.userId, 5));
      await jobs.fail(j2.id, 20011, { zh: '无音频', en: 'no audio' }, noCallback);
      await jobs.fail(j2.id, 20011, { zh: '无音频', en: 'no audio' }, noCallback);
      assert.equal((await accounts.findById(a.userId))?.balance, 22);
      assert.equal((await jobs.get(j2.id))?.error_code, 20011);
      assert.equal(await ledger.sum(a.userId), 22);
      const kinds = (await ledger.entriesForJob(j1.id)).map((e) => e.kind).sort();
      assert.deepEqual(kinds, ['reserve', 'settle']);
      const bills = await ledger.charges(a.userId, 1, 10);
      assert.equal(bills.total, 1);
      assert.equal(bills.list[0]?.fee, 8);

      // the works list: the account's own, newest first, counted and paged
      const listed = await jobs.listOwned(a.userId, ['WORK'], 1, 10);
      assert.equal(listed.total, 2);
      assert.equal(typeof listed.total, 'number');
      assert.deepEqual(new Set(listed.list.map((j) => j.id)), new Set([j1.id, j2.id]));
      const second = await jobs.listOwned(a.userId, ['WORK'], 2, 1);
      assert.equal(second.list.length, 1);
      assert.equal(second.total, 2);
      assert.notEqual(second.list[0]?.id, listed.list[0]?.id);
      assert.deepEqual((await jobs.listOwned(a.userId, ['LITE', 'PRO'], 1, 10)).list, []);
    });

    test('jobs: 20005 when the balance cannot cover, reserveUpTo is idempotent', async () => {
      const a = await accounts.create({ points: 12, lite: 0, pro: 0 });
      await assert.rejects(
        jobs.submit(submission(a.userId, 13)),
        (e: unknown) => e instanceof AppError && e.code === 20005,
      );
      const j = await jobs.submit(submission(a.userId, 5));
      await jobs.reserveUpTo(j.id, 9);
      await jobs.reserveUpTo(j.id, 9);
      assert.equal((await accounts.findById(a.userId))?.balance, 3);
      const j2 = await jobs.submit(submission(a.userId, 1));
      await assert.rejects(
        jobs.reserveUpTo(j2.id, 10),
        (e: unknown) => e instanceof AppError && e.code === 20005,
      );
      assert.equal(await ledger.sum(a.userId), 2);
    });

    test('jobs: concurrent submissions never overdraw', async () => {
      const a = await accounts.create({ points: 10, lite: 0, pro: 0 });
      const results = await Promise.allSettled(
        Array.from({ length: 25 }, () => jobs.submit(submission(a.userId, 1))),
      );
      const ok = results.filter((r) => r.status === 'fulfilled').length;
      assert.equal(ok, 10);
      for (const r of results) {
        if (r.status === 'rejected') assert.equal((r.reason as AppError).code, 20005);
      }
      assert.equal((await accounts.findById(a.userId))?.balance, 0);
    });

    test('jobs: limits 20007 (running) and 20008 (queued or running)', async () => {
      const a = await accounts.create({ points: 100, lite: 0, pro: 0 });
      const limits = { maxRunning: 1, maxPending: 2 };
      const j = await jobs.submit(submission(a.userId, 1, { limits }));
      await jobs.submit(submission(a.userId, 1, { limits }));
      await assert.rejects(
        jobs.submit(submission(a.userId, 1, { limits })),
        (e: unknown) => e instanceof AppError && e.code === 20008,
      );
      await jobs.markRunning(j.id);
      await assert.rejects(
        jobs.submit(submission(a.userId, 1, { limits })),
        (e: unknown) => e instanceof AppError && e.code === 20007,
      );
    });

    test('queue: claim, lease expiry, heartbeat, retry, release, dedupe', async () => {
      const db = tdb.database.db;
      const id = await queue.enqueue(db, {
        kind: 'k1',
        refId: 'r1',
        payload: { a: 1 },
        maxAttempts: 3,
        dedupeKey: 'dk1',
      });
      assert.ok(id);
      assert.equal(
        await queue.enqueue(db, { kind: 'k1', refId: 'r1', payload: {}, maxAttempts: 3, dedupeKey: 'dk1' }),
        null,
      );
      const c1 = await queue.claim('w1', 1000, ['k1']);
      assert.equal(c1?.id, id);
      assert.equal(c1?.attempts, 1);
      assert.equal(await queue.claim('w2', 1000, ['k1']), null);
      assert.equal(await queue.heartbeat(id!, 'w1', 1000), true);
      clock.advance(1001);
      const c2 = await queue.claim('w2', 1000, ['k1']);
      assert.equal(c2?.id, id);
      assert.equal(c2?.attempts, 2);
      assert.equal(await queue.heartbeat(id!, 'w1', 1000), false);
      assert.equal(await queue.complete(id!, 'w1'), false);
      assert.equal(await queue.retry(id!, 'w2', 5000, 'boom'), true);
      assert.equal(await queue.claim('w2', 1000, ['k1']), null);
      clock.advance(5000);
      const c3 = await queue.claim('w3', 1000, ['k1']);
      assert.equal(c3?.attempts, 3);
      assert.equal(await queue.release(id!, 'w3'), true);
      const c4 = await queue.claim('w3', 1000, ['k1']);
      assert.equal(c4?.attempts, 3);
      assert.equal(await queue.complete(id!, 'w3'), true);
      assert.equal((await queue.get(id!))?.state, 'done');
    });

    test('queue: concurrent claims never take the same item twice', async () => {
      const db = tdb.database.db;
      for (let i = 0; i < 20; i++)
        await queue.enqueue(db, { kind: 'k2', refId: `r${i}`, payload: {}, maxAttempts: 1 });
      const claimed = await Promise.all(
        Array.from({ length: 30 }, (_, i) => queue.claim(`w${i}`, 60_000, ['k2'])),
      );
      const ids = claimed.filter((c) => c !== null).map((c) => c.id);
      assert.equal(ids.length, 20);
      assert.equal(new Set(ids).size, 20);
    });

    test('queue: claims are fair between accounts; callbacks go before renders', async () => {
      const a = await accounts.create({ points: 1000, lite: 0, pro: 0 });
      const b = await accounts.create({ points: 1000, lite: 0, pro: 0 });
      const c = await accounts.create({ points: 1000, lite: 0, pro: 0 });
      const kind = 'fair-render';
      const queueOf = { kind, maxAttempts: 3 };
      // account A fills the queue first (20 jobs), then B submits one
      const aJobs: string[] = [];
      for (let i = 0; i < 20; i++) {
        aJobs.push((await jobs.submit(submission(a.userId, 1, { queue: queueOf }))).id);
        clock.advance(1);
      }
      const bJob = (await jobs.submit(submission(b.userId, 1, { queue: queueOf }))).id;
      const refs: string[] = [];
      const take = async (kinds: string[]) => {
        const item = await queue.claim('fw', 60_000, kinds);
        assert.ok(item, 'an item is due');
        refs.push(item.ref_id);
        return item;
      };
      await take([kind]);
      await take([kind]);
      assert.ok(refs.includes(bJob), `B's job is claimed first or second (got ${refs.join(', ')})`);
      assert.equal((await queue.listByRef(bJob))[0]?.account_id, b.userId);

      // C's job ends with a callback while renders of A are due: the callback is claimed first
      const cJob = await jobs.submit(submission(c.userId, 1, { queue: queueOf, callbackUrl: 'http://x/cb' }));
      clock.advance(1);
      await jobs.fail(cJob.id, 20011, { zh: '无音频', en: 'no audio' }, () => ({
        url: 'http://x/cb',
        body: { status: 4 },
      }));
      const cb = await take([kind, 'callback']);
      assert.equal(cb.kind, 'callback');
      assert.equal(cb.ref_id, cJob.id);
      assert.equal(cb.account_id, c.userId);
      // C has been served (its callback) more recently than A: A's renders come before C's
      const next = await take([kind]);
      assert.ok(aJobs.includes(next.ref_id));
      const stillQueued = (await Promise.all(aJobs.map((id) => queue.listByRef(id)))).filter(
        (items) => items[0]?.state === 'queued',
      );
      assert.equal(stillQueued.length, 18, 'A has had two turns');
    });

    test('retention: finished items and old delivery records go in batches; queued and active stay', async () => {
      const db = tdb.database.db;
      const callbacks = new CallbacksRepository(tdb.database, clock, cryptoRandom);
      const day = 86_400_000;
      // one kind per item, so each claim takes exactly the item meant
      const item = async (kind: string, runAt?: number) => {
        const id = await queue.enqueue(db, {
          kind,
          refId: `ret-${kind}`,
          payload: {},
          maxAttempts: 1,
          ...(runAt === undefined ? {} : { runAt }),
        });
        assert.ok(id);
        return id;
      };
      const finished = async (kind: string, how: 'complete' | 'fail') => {
        const id = await item(kind);
        assert.equal((await queue.claim('rw', 60_000, [kind]))?.id, id);
        assert.ok(how === 'complete' ? await queue.complete(id, 'rw') : await queue.fail(id, 'rw', 'x'));
        return id;
      };
      const delivery = (queueId: string) =>
        callbacks.record({
          queueId,
          refId: `ret-${queueId}`,
          url: 'http://x/cb',
          attempt: 1,
          httpStatus: 500,
          error: '',
          durationMs: 1,
        });
      const oldDone = await finished('ret-a', 'complete');
      const oldFailed = await finished('ret-b', 'fail');
      const oldDone2 = await finished('ret-c', 'complete');
      const active = await item('ret-d');
      assert.equal((await queue.claim('rw', 365 * day, ['ret-d']))?.id, active);
      const expiredLease = await item('ret-e');
      assert.equal((await queue.claim('rw', 1000, ['ret-e']))?.id, expiredLease);
      const queued = await item('ret-f');
      const later = await item('ret-g', clock.now() + 30 * day);
      await delivery(oldDone);
      await delivery(active); // a callback still being delivered keeps its history
      await delivery(queued);
      clock.advance(10 * day);
      const recent = await finished('ret-h', 'complete');
      await delivery(recent);

      const before = clock.now() - 7 * day;
      assert.equal(await queue.deleteFinished(before, 1), 1, 'a batch is bounded');
      let rest = 0;
      for (;;) {
        const n = await queue.deleteFinished(before, 2);
        rest += n;
        if (n < 2) break;
      }
      assert.ok(rest >= 2, 'the rest of the old finished items (earlier tests left some too)');
      for (const id of [oldDone, oldFailed, oldDone2]) assert.equal(await queue.get(id), null);
      assert.equal((await queue.get(active))?.state, 'active');
      assert.equal((await queue.get(expiredLease))?.state, 'active');
      assert.equal((await queue.get(queued))?.state, 'queued');
      assert.equal((await queue.get(later))?.state, 'queued');
      assert.equal((await queue.get(recent))?.state, 'done');
      // a claim still works after the deletion (the expired lease is taken again)
      assert.equal((await queue.claim('rw2', 1000, ['ret-e']))?.id, expiredLease);

      assert.equal(await callbacks.deleteOlderThan(before, 100), 1);
      assert.equal(await callbacks.deleteOlderThan(before, 100), 0);
      assert.equal((await callbacks.forRef(`ret-${oldDone}`)).length, 0);
      assert.equal((await callbacks.forRef(`ret-${active}`)).length, 1);
      assert.equal((await callbacks.forRef(`ret-${queued}`)).length, 1);
      assert.equal((await callbacks.forRef(`ret-${recent}`)).length, 1);
    });

    test('voices: quota 30002 uses no slot, at most 10 trainings, no overlap', async () => {
      const a = await accounts.create({ points: 0, lite: 1, pro: 0 });
      const base = { accountId: a.userId, audioUrl: 'http://x/a.wav', callbackUrl: '', maxAttempts: 3 };
      await assert.rejects(
        voices.submitTraining({ ...base, type: 'PRO', speakerId: '' }),
        (e: unknown) => e instanceof AppError && e.code === 30002,
      );
      assert.equal((await accounts.findById(a.userId))?.pro_used, 0);
      const { voice, training } = await voices.submitTraining({ ...base, type: 'LITE', speakerId: '' });
      assert.equal((await accounts.findById(a.userId))?.lite_used, 1);
      await assert.rejects(
        voices.submitTraining({ ...base, type: 'LITE', speakerId: '' }),
        (e: unknown) => e instanceof AppError && e.code === 30002,
      );
      await assert.rejects(
        voices.submitTraining({ ...base, type: 'LITE', speakerId: voice.id }),
        (e: unknown) => e instanceof AppError && e.code === 30001,
      );
      await assert.rejects(
        voices.submitTraining({ ...base, type: 'PRO', speakerId: voice.id }),
        (e: unknown) => e instanceof AppError && e.code === 20006,
      );
      let last = training;
      await voices.completeTraining(voice.id, last.id, { f0: 1 }, () => null);
      for (let i = 2; i <= 10; i++) {
        ({ training: last } = await voices.submitTraining({ ...base, type: 'LITE', speakerId: voice.id }));
        await voices.failTraining(voice.id, last.id, 20014, { zh: '太短', en: 'short' }, () => null);
      }
      await assert.rejects(
        voices.submitTraining({ ...base, type: 'LITE', speakerId: voice.id }),
        (e: unknown) => e instanceof AppError && e.code === 20004,
      );
      const v = await voices.get(voice.id);
      assert.equal(v?.trainings, 10);
      assert.equal(v?.status, JobStatus.FAILED);
      assert.equal(v?.profile, JSON.stringify({ f0: 1 }), 'a failed retraining keeps the profile');
      const mine = await voices.listOwned(a.userId, 1, 10);
      assert.equal(mine.total, 1);
      assert.equal(mine.list[0]?.id, voice.id);
      const other = await accounts.create({ points: 0, lite: 1, pro: 0 });
      assert.deepEqual(await voices.listOwned(other.userId, 1, 10), { total: 0, list: [] });
    });

    test('avatars: one per account and URL, replaced when the content changes, parts stored once', async () => {
      const avatars = new AvatarsRepository(tdb.database, clock, cryptoRandom);
      const a = await accounts.create({ points: 0, lite: 0, pro: 0 });
      const b = await accounts.create({ points: 0, lite: 0, pro: 0 });
      const url = 'https://example.com/v.mp4';
      const first = await avatars.ensure(a.userId, url, 'h1');
      assert.equal(first.replaced, null);
      assert.deepEqual(first.avatar.parts, {});
      clock.advance(1000);
      const again = await avatars.ensure(a.userId, url, 'h1');
      assert.equal(again.avatar.id, first.avatar.id, 'same account, URL and content: the same avatar');
      assert.equal(again.avatar.usedAt, clock.now(), 'marked used');
      const other = await avatars.ensure(b.userId, url, 'h1');
      assert.notEqual(other.avatar.id, first.avatar.id, 'avatars are per account');

      const put = await avatars.putPart(first.avatar.id, 'track', { frames: 3 });
      assert.deepEqual(put, { value: { frames: 3 }, stored: true });
      const lost = await avatars.putPart(first.avatar.id, 'track', { frames: 4 });
      assert.deepEqual(lost, { value: { frames: 3 }, stored: false }, 'the first stored part wins');
      assert.deepEqual((await avatars.get(first.avatar.id))?.parts, { track: { frames: 3 } });
      await avatars.dropPart(first.avatar.id, 'track');
      assert.deepEqual((await avatars.get(first.avatar.id))?.parts, {});

      const changed = await avatars.ensure(a.userId, url, 'h2');
      assert.equal(changed.replaced, first.avatar.id, 'new content replaces the row');
      assert.notEqual(changed.avatar.id, first.avatar.id);
      assert.equal(await avatars.get(first.avatar.id), null);
      assert.equal(await avatars.putPart(first.avatar.id, 'x', 1), null, 'a replaced avatar takes no parts');

      // concurrent first works on one new video: one row
      const url2 = 'https://example.com/w.mp4';
      const both = await Promise.all([
        avatars.ensure(a.userId, url2, 'h'),
        avatars.ensure(a.userId, url2, 'h'),
      ]);
      assert.equal(both[0].avatar.id, both[1].avatar.id);

      clock.advance(10_000);
      const cutoff = clock.now() - 5_000;
      const stale = await avatars.listUnusedSince(cutoff, 100);
      assert.ok(stale.some((x) => x.id === changed.avatar.id));
      await avatars.ensure(a.userId, url, 'h2'); // used again before the sweep deletes it
      assert.equal(await avatars.deleteIfUnused(changed.avatar.id, cutoff), false);
      assert.equal(await avatars.deleteIfUnused(other.avatar.id, cutoff), true);
      assert.equal(await avatars.get(other.avatar.id), null);
    });

    test('uploads: recorded with their owner, listed for the sweep once expired', async () => {
      const uploads = new UploadsRepository(tdb.database);
      const a = await accounts.create({ points: 0, lite: 0, pro: 0 });
      const now = clock.now();
      const row = (key: string, expiresAt: number) => ({
        key,
        account_id: a.userId,
        name: 'clip.mp4',
        content_type: 'video/mp4',
        size: 600 * 1024 * 1024, // over 2^31: a bigint column
        created_at: now,
        expires_at: expiresAt,
      });
      await uploads.insert(row('uploads/o/1/clip.mp4', now + 1000));
      await uploads.insert(row('uploads/o/2/clip.mp4', now + 5000));
      assert.deepEqual(await uploads.get('uploads/o/1/clip.mp4'), row('uploads/o/1/clip.mp4', now + 1000));
      assert.equal(await uploads.get('uploads/o/9/clip.mp4'), null);
      await assert.rejects(uploads.insert(row('uploads/o/1/clip.mp4', now)), 'a key is stored once');
      assert.deepEqual(await uploads.listExpired(now, 10), []);
      assert.deepEqual(
        (await uploads.listExpired(now + 5000, 10)).map((r) => r.key),
        ['uploads/o/1/clip.mp4', 'uploads/o/2/clip.mp4'],
        'oldest expiry first',
      );
      assert.equal((await uploads.listExpired(now + 5000, 1)).length, 1);
      await uploads.delete('uploads/o/1/clip.mp4');
      assert.equal(await uploads.get('uploads/o/1/clip.mp4'), null);
    });
  });
}
