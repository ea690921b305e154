import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';
import { ErrorCode } from '../domain/errors.ts';
import { ManualClock } from '../repositories/clock.ts';
import type { Account } from '../repositories/accounts.repository.ts';
import { codeOf, countingRandom, fakeAccount } from './service-fakes.ts';
import { md5, sha256, SIGN_WINDOW_MS, TokenService } from './tokens.service.ts';

const TTL = 2 * 3_600_000;

class FakeTokenStore {
  readonly tokens = new Map<string, { accountId: string; expiresAt: number }>();
  readonly signatures = new Set<string>();
  constructor(
    private readonly accounts: Map<string, Account>,
    private readonly clock: ManualClock,
  ) {}
  async recordSignature(hash: string): Promise<boolean> {
    if (this.signatures.has(hash)) return false;
    this.signatures.add(hash);
    return true;
  }
  async insert(tokenHash: string, accountId: string, expiresAt: number): Promise<void> {
    this.tokens.set(tokenHash, { accountId, expiresAt });
  }
  async findAccount(tokenHash: string): Promise<Account | null> {
    const t = this.tokens.get(tokenHash);
    if (t === undefined || t.expiresAt <= this.clock.now()) return null;
    const a = this.accounts.get(t.accountId);
    return a === undefined || a.disabled !== 0 ? null : a;
  }
}

const code = codeOf;

describe('TokenService (fakes, no database)', () => {
  const account = fakeAccount();
  let clock: ManualClock;
  let store: FakeTokenStore;
  let service: TokenService;
  const sign = (ts: number, secret = account.secret_key) => md5(`${account.access_key}${ts}${secret}`);
  beforeEach(() => {
    clock = new ManualClock(Date.UTC(2026, 11, 7));
    const accounts = new Map([[account.id, account]]);
    store = new FakeTokenStore(accounts, clock);
    const byKey = {
      findByAccessKey: async (k: string) => [...accounts.values()].find((a) => a.access_key === k) ?? null,
    };
    service = new TokenService(byKey, store, clock, countingRandom(), TTL);
  });

  test('a signed timestamp inside the window gets a token that authenticates until it expires', async () => {
    const ts = clock.now() - SIGN_WINDOW_MS + 1;
    const { token, expiresIn } = await service.issue(account.access_key, String(ts), sign(ts).toUpperCase());
    assert.equal(expiresIn, clock.now() + TTL);
    assert.ok(store.tokens.has(sha256(token)), 'stored as its hash');
    assert.ok(![...store.tokens.keys()].includes(token), 'never stored in the clear');
    assert.equal((await service.authenticate(token)).id, account.id);
    clock.advance(TTL);
    assert.equal(await code(service.authenticate(token)), ErrorCode.INVALID_TOKEN);
  });

  test('unknown key 20001; stale or future timestamp, wrong sign and a replay 20003', async () => {
    const now = clock.now();
    assert.equal(await code(service.issue('ak_nobody', String(now), sign(now))), ErrorCode.ACCOUNT_NOT_FOUND);
    for (const ts of [now - SIGN_WINDOW_MS - 1, now + SIGN_WINDOW_MS + 1]) {
      assert.equal(
        await code(service.issue(account.access_key, String(ts), sign(ts))),
        ErrorCode.BAD_SIGNATURE,
      );
    }
    assert.equal(
      await code(service.issue(account.access_key, String(now), sign(now, 'wrong'))),
      ErrorCode.BAD_SIGNATURE,
    );
    await service.issue(account.access_key, String(now), sign(now));
    assert.equal(
      await code(service.issue(account.access_key, String(now), sign(now))),
      ErrorCode.BAD_SIGNATURE,
    );
    assert.equal(store.tokens.size, 1);
  });

  test('missing, empty, over-long and unknown tokens are 20002', async () => {
    for (const token of [undefined, '', 'x'.repeat(513), 'never-issued']) {
      assert.equal(await code(service.authenticate(token)), ErrorCode.INVALID_TOKEN);
    }
  });
});
