/** Table shapes as Kysely sees them. Times are Unix milliseconds; flags are 0/1 (portable). */
export interface AccountsTable {
  id: string;
  access_key: string;
  secret_key: string;
  webhook_secret: string;
  /** Points available now (reservations already taken out). Never negative. */
  balance: number;
  lite_total: number;
  lite_used: number;
  pro_total: number;
  pro_used: number;
  disabled: number;
  /** Bumped by every money transaction: its UPDATE takes the row (and in SQLite the write) lock first. */
  version: number;
  created_at: number;
  updated_at: number;
}

export interface TokensTable {
  token_hash: string;
  account_id: string;
  expires_at: number;
  created_at: number;
}

export interface TokenSignsTable {
  sign_hash: string;
  expires_at: number;
}

/** Public jobs: works (WORK) and speech synthesis (LITE, PRO). */
export interface JobsTable {
  id: string;
  account_id: string;
  type: string;
  mode: string;
  status: number;
  progress: number;
  error_code: number;
  /** Chinese (the seed's language); error_message_en is the English reading. */
  error_message: string;
  error_message_en: string;
  params: string;
  title: string;
  callback_url: string;
  result_url: string;
  /**
   * Blob key of the stored result; on a failed job, its result folder (`results/<outputKey>/`) until
   * the files left there (a text work's speech) are deleted. '' when nothing is stored.
   */
  result_key: string;
  new_audio_url: string;
  /** Blob key of a text work's speech (newAudioUrl); '' when none, or stored before 0005. */
  new_audio_key: string;
  /**
   * Made by the local engine in place of an unreachable remote one (DHS_ENGINE_FALLBACK=local): the
   * note saying so, JSON `{"zh","en"}` (readEngineNote); null otherwise.
   */
  engine_note: string | null;
  /**
   * Blob key of the subtitles in WebVTT (`results/<outputKey>/<result name>.vtt`; SRT beside it as
   * `.srt`): text works and speech jobs since 0008; null for the others, and once retention deleted them.
   */
  subtitle_key: string | null;
  duration: number;
  reserved_points: number;
  fee: number;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
}

export interface VoicesTable {
  id: string;
  account_id: string;
  type: string;
  status: number;
  error_code: number;
  error_message: string;
  error_message_en: string;
  trainings: number;
  profile: string | null;
  callback_url: string;
  created_at: number;
  updated_at: number;
}

export interface VoiceTrainingsTable {
  id: string;
  voice_id: string;
  seq: number;
  audio_url: string;
  audio_key: string;
  status: number;
  error_code: number;
  error_message: string;
  created_at: number;
  finished_at: number | null;
}

export interface LedgerTable {
  id: string;
  account_id: string;
  job_id: string | null;
  /** topup | reserve | reserve_more | settle | adjust */
  kind: string;
  /** Signed change of the balance. The balance is the sum of these. */
  amount: number;
  /** Points finally charged (settle rows of successful jobs). */
  fee: number;
  duration: number;
  type: string;
  created_at: number;
}

export interface QueueTable {
  id: string;
  kind: string;
  ref_id: string;
  payload: string;
  /** queued | active | done | failed */
  state: string;
  priority: number;
  attempts: number;
  max_attempts: number;
  run_at: number;
  lease_until: number | null;
  worker_id: string | null;
  last_error: string;
  dedupe_key: string | null;
  created_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
  /** The account the item works for ('' for the server's own, e.g. retention): claims are fair by it. */
  account_id: string;
  /** When a worker last took the item (every claim, retries included); null until then. */
  claimed_at: number | null;
}

export interface CallbackDeliveriesTable {
  id: string;
  queue_id: string;
  ref_id: string;
  url: string;
  attempt: number;
  http_status: number | null;
  error: string;
  duration_ms: number;
  created_at: number;
}

/** A prepared video (avatar cache). `parts` is a JSON object: part name -> that part's metadata. */
export interface AvatarsTable {
  id: string;
  account_id: string;
  video_url: string;
  /** sha256 (hex) of the downloaded file the parts were made from. */
  content_hash: string;
  parts: string;
  created_at: number;
  used_at: number;
}

/** A file a customer uploaded, kept in the blob store under `key` until `expires_at`. */
export interface UploadsTable {
  key: string;
  account_id: string;
  /** The file name as stored (made safe), the last part of `key`. */
  name: string;
  content_type: string;
  size: number;
  created_at: number;
  expires_at: number;
}

export interface DB {
  avatars: AvatarsTable;
  uploads: UploadsTable;
  accounts: AccountsTable;
  tokens: TokensTable;
  token_signs: TokenSignsTable;
  jobs: JobsTable;
  voices: VoicesTable;
  voice_trainings: VoiceTrainingsTable;
  ledger: LedgerTable;
  queue: QueueTable;
  callback_deliveries: CallbackDeliveriesTable;
}
