import { createHash, timingSafeEqual } from 'node:crypto';
import { AppError, ErrorCode, t } from '../domain/errors.ts';
import type { Account, AccountsRepository } from '../repositories/accounts.repository.ts';
import type { Clock } from '../repositories/clock.ts';
import type { RandomSource } from '../repositories/random.ts';
import type { TokensRepository } from '../repositories/tokens.repository.ts';

/** seed 2.1: sign = md5(accessKey + timestamp + secretKey), timestamp within ±3 minutes. */
export const SIGN_WINDOW_MS = 3 * 60 * 1000;

/** A timestamp whose value times 1000 is this close to now was sent in seconds, not milliseconds. */
const SECONDS_LOOKALIKE_MS = 24 * 60 * 60 * 1000;

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
export const md5 = (s: string) => createHash('md5').update(s).digest('hex');

export class TokenService {
  constructor(
    private readonly accounts: Pick<AccountsRepository, 'findByAccessKey'>,
    private readonly tokens: Pick<TokensRepository, 'recordSignature' | 'insert' | 'findAccount'>,
    private readonly clock: Clock,
    private readonly random: RandomSource,
    private readonly ttlMs: number,
  ) {}

  /**
   * Issues a token. Checks, in order: the account (20001), the timestamp window (20003), the sign in
   * constant time (20003), and that this exact (accessKey, timestamp, sign) was not used before: a
   * replayed triple is refused (20003) for as long as its timestamp is inside the window.
   */
  async issue(
    accessKey: string,
    timestamp: string,
    sign: string,
  ): Promise<{ token: string; expiresIn: number }> {
    const account = await this.accounts.findByAccessKey(accessKey);
    if (account === null || account.disabled !== 0) throw new AppError(ErrorCode.ACCOUNT_NOT_FOUND);
    const now = this.clock.now();
    const ts = Number(timestamp);
    if (Number.isSafeInteger(ts) && Math.abs(now - ts * 1000) <= SECONDS_LOOKALIKE_MS) {
      // the most common slip: Unix seconds (10 digits) where the seed wants milliseconds (13)
      throw new AppError(
        ErrorCode.BAD_SIGNATURE,
        t(
          `时间戳 ${timestamp} 看起来是秒，必须是毫秒（13 位，如 ${now}）`,
          `timestamp ${timestamp} looks like Unix seconds; it must be Unix milliseconds (13 digits, like ${now})`,
        ),
      );
    }
    if (!Number.isSafeInteger(ts) || Math.abs(now - ts) > SIGN_WINDOW_MS) {
      throw new AppError(
        ErrorCode.BAD_SIGNATURE,
        t('时间戳超出 3 分钟有效期', 'timestamp is more than 3 minutes from server time'),
      );
    }
    const expected = Buffer.from(md5(accessKey + timestamp + account.secret_key), 'utf8');
    const given = Buffer.from(sign.toLowerCase(), 'utf8');
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new AppError(ErrorCode.BAD_SIGNATURE);
    }
    const fresh = await this.tokens.recordSignature(
      sha256(`${accessKey}|${timestamp}|${sign.toLowerCase()}`),
      ts + SIGN_WINDOW_MS + 1000,
    );
    if (!fresh) {
      throw new AppError(
        ErrorCode.BAD_SIGNATURE,
        t('签名已使用过，请用新的时间戳', 'this signature was already used; sign a new timestamp'),
      );
    }
    const token = this.random.bytes(32).toString('base64url');
    const expiresIn = now + this.ttlMs;
    await this.tokens.insert(sha256(token), account.id, expiresIn);
    return { token, expiresIn };
  }

  /** The account a token belongs to; 20002 for a missing, unknown, expired or revoked token. */
  async authenticate(token: string | undefined): Promise<Account> {
    if (token === undefined || token === '') {
      throw new AppError(
        ErrorCode.INVALID_TOKEN,
        t(
          '缺少 authorization-token 请求头：先用 GET /api/model/v5/oauth/token 获取 token，再放在该请求头中',
          'the authorization-token header is missing: get a token from GET /api/model/v5/oauth/token and send it in that header',
        ),
      );
    }
    if (token.length > 512) throw new AppError(ErrorCode.INVALID_TOKEN);
    const account = await this.tokens.findAccount(sha256(token));
    if (account === null) throw new AppError(ErrorCode.INVALID_TOKEN);
    return account;
  }
}
