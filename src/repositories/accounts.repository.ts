import type { Kysely, Selectable } from 'kysely';
import { AppError, ErrorCode, t } from '../domain/errors.ts';
import type { Clock } from './clock.ts';
import type { Database } from './db/connect.ts';
import type { AccountsTable, DB } from './db/schema.ts';
import { newId, newSecret, type RandomSource } from './random.ts';

export type Account = Selectable<AccountsTable>;

/**
 * Takes the account row's lock for the rest of the transaction (the first statement of every money
 * transaction) and returns the row as it is under that lock.
 */
export async function lockAccount(trx: Kysely<DB>, accountId: string, now: number): Promise<Account> {
  const row = await trx
    .updateTable('accounts')
    .set((eb) => ({ version: eb('version', '+', 1), updated_at: now }))
    .where('id', '=', accountId)
    .returningAll()
    .executeTakeFirst();
  if (row === undefined) throw new AppError(ErrorCode.ACCOUNT_NOT_FOUND);
  return row;
}

/** Adds a signed amount to the balance; the CHECK (balance >= 0) backs the callers' own checks. */
export async function changeBalance(trx: Kysely<DB>, accountId: string, amount: number): Promise<void> {
  if (amount === 0) return;
  await trx
    .updateTable('accounts')
    .set((eb) => ({ balance: eb('balance', '+', amount) }))
    .where('id', '=', accountId)
    .execute();
}

export interface NewAccount {
  userId: string;
  accessKey: string;
  secretKey: string;
  webhookSecret: string;
}

export class AccountsRepository {
  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
    private readonly random: RandomSource,
  ) {}

  async create(input: { points: number; lite: number; pro: number }): Promise<NewAccount> {
    const now = this.clock.now();
    const account: NewAccount = {
      userId: newId(this.random, 'u_'),
      accessKey: `ak_${this.random.bytes(12).toString('hex')}`,
      secretKey: newSecret(this.random, 24),
      webhookSecret: `whsec_${this.random.bytes(24).toString('base64')}`,
    };
    await this.database.tx(async (trx) => {
      await trx
        .insertInto('accounts')
        .values({
          id: account.userId,
          access_key: account.accessKey,
          secret_key: account.secretKey,
          webhook_secret: account.webhookSecret,
          balance: 0,
          lite_total: input.lite,
          lite_used: 0,
          pro_total: input.pro,
          pro_used: 0,
          disabled: 0,
          version: 0,
          created_at: now,
          updated_at: now,
        })
        .execute();
      if (input.points > 0) await this.bookTopup(trx, account.userId, input.points, now);
    });
    return account;
  }

  async findByAccessKey(accessKey: string): Promise<Account | null> {
    return (
      (await this.database.db
        .selectFrom('accounts')
        .selectAll()
        .where('access_key', '=', accessKey)
        .executeTakeFirst()) ?? null
    );
  }

  async findById(id: string): Promise<Account | null> {
    return (
      (await this.database.db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst()) ??
      null
    );
  }

  async list(): Promise<Account[]> {
    return this.database.db.selectFrom('accounts').selectAll().orderBy('created_at').execute();
  }

  /** Adds points (a negative number takes them away, never below zero). */
  async topup(accessKey: string, points: number): Promise<Account> {
    const account = await this.mustFind(accessKey);
    const now = this.clock.now();
    return this.database.tx(async (trx) => {
      const locked = await lockAccount(trx, account.id, now);
      if (locked.balance + points < 0) {
        throw new AppError(
          ErrorCode.INSUFFICIENT_POINTS,
          t(
            `余额 ${locked.balance}，不能扣除 ${-points}`,
            `balance is ${locked.balance}; cannot take ${-points}`,
          ),
        );
      }
      await this.bookTopup(trx, account.id, points, now);
      return { ...locked, balance: locked.balance + points };
    });
  }

  async setQuota(accessKey: string, quota: { lite?: number; pro?: number }): Promise<Account> {
    const account = await this.mustFind(accessKey);
    const now = this.clock.now();
    return this.database.tx(async (trx) => {
      await lockAccount(trx, account.id, now);
      return trx
        .updateTable('accounts')
        .set({
          ...(quota.lite === undefined ? {} : { lite_total: quota.lite }),
          ...(quota.pro === undefined ? {} : { pro_total: quota.pro }),
        })
        .where('id', '=', account.id)
        .returningAll()
        .executeTakeFirstOrThrow();
    });
  }

  /** Disables the account and revokes its tokens; its jobs and money stay as they are. */
  async disable(accessKey: string): Promise<void> {
    const account = await this.mustFind(accessKey);
    const now = this.clock.now();
    await this.database.tx(async (trx) => {
      await trx
        .updateTable('accounts')
        .set({ disabled: 1, updated_at: now })
        .where('id', '=', account.id)
        .execute();
      await trx.deleteFrom('tokens').where('account_id', '=', account.id).execute();
    });
  }

  private async mustFind(accessKey: string): Promise<Account> {
    const account = await this.findByAccessKey(accessKey);
    if (account === null) throw new AppError(ErrorCode.ACCOUNT_NOT_FOUND, `accessKey ${accessKey}`);
    return account;
  }

  private async bookTopup(trx: Kysely<DB>, accountId: string, points: number, now: number): Promise<void> {
    await changeBalance(trx, accountId, points);
    await trx
      .insertInto('ledger')
      .values({
        id: newId(this.random, 'l_'),
        account_id: accountId,
        job_id: null,
        kind: 'topup',
        amount: points,
        fee: 0,
        duration: 0,
        type: 'TOPUP',
        created_at: now,
      })
      .execute();
  }
}
