import type { Clock } from './clock.ts';
import type { Database } from './db/connect.ts';
import type { Account } from './accounts.repository.ts';

/** Tokens are stored only as hashes; the replay guard remembers each signed triple for its window. */
export class TokensRepository {
  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
  ) {}

  async insert(tokenHash: string, accountId: string, expiresAt: number): Promise<void> {
    await this.database.db
      .insertInto('tokens')
      .values({
        token_hash: tokenHash,
        account_id: accountId,
        expires_at: expiresAt,
        created_at: this.clock.now(),
      })
      .execute();
  }

  /** The live, enabled account a token hash belongs to. */
  async findAccount(tokenHash: string): Promise<Account | null> {
    const row = await this.database.db
      .selectFrom('tokens')
      .innerJoin('accounts', 'accounts.id', 'tokens.account_id')
      .selectAll('accounts')
      .where('tokens.token_hash', '=', tokenHash)
      .where('tokens.expires_at', '>', this.clock.now())
      .where('accounts.disabled', '=', 0)
      .executeTakeFirst();
    return row ?? null;
  }

  /** Records a used (accessKey, timestamp, sign) triple; false when it was used before (a replay). */
  async recordSignature(signHash: string, expiresAt: number): Promise<boolean> {
    const res = await this.database.db
      .insertInto('token_signs')
      .values({ sign_hash: signHash, expires_at: expiresAt })
      .onConflict((oc) => oc.column('sign_hash').doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** Forgets expired tokens and replay records. */
  async prune(): Promise<number> {
    const now = this.clock.now();
    const a = await this.database.db.deleteFrom('tokens').where('expires_at', '<=', now).executeTakeFirst();
    const b = await this.database.db
      .deleteFrom('token_signs')
      .where('expires_at', '<=', now)
      .executeTakeFirst();
    return Number(a.numDeletedRows) + Number(b.numDeletedRows);
  }
}
