import { formatBillTime } from '../domain/time.ts';
import type { Account } from '../repositories/accounts.repository.ts';
import type { LedgerRepository } from '../repositories/ledger.repository.ts';

/** seed 5.1 balance and 5.2 bill list. */
export class UserService {
  constructor(
    private readonly ledger: Pick<LedgerRepository, 'charges'>,
    private readonly timeZone: string,
  ) {}

  balance(account: Account) {
    return {
      balance: account.balance,
      voiceLiteUsedQuantity: account.lite_used,
      voiceLiteTotalQuantity: account.lite_total,
      voiceProUsedQuantity: account.pro_used,
      voiceProTotalQuantity: account.pro_total,
    };
  }

  async bills(account: Account, page: number, size: number) {
    const { total, list } = await this.ledger.charges(account.id, page, size);
    return {
      total,
      list: list.map((e) => ({
        type: e.type,
        time: formatBillTime(e.created_at, this.timeZone),
        duration: e.duration,
        fee: e.fee,
        jobId: e.job_id ?? '',
      })),
    };
  }
}
