/**
 * DHS_ENGINE_FALLBACK=local: a remote engine that cannot be reached is replaced by the local one for
 * that job. The remote engine is tried first, with all of its own retries (HeyGem waits out silence for
 * DHS_HEYGEM_STALL_MS, a speech piece is tried three times); when it still got no answer at all (the
 * connection refused or reset, the host not found, no answer in time), the local engine makes the
 * output instead, and the output carries a note saying so, which the job keeps (`engineNote` in its
 * detail). A warning is logged and `dhs_engine_fallbacks_total{engine}` counted.
 *
 * Anything else fails the job as before: an engine that answered (a 4xx, a 5xx, garbage, a task it
 * reports as failed) is there and would answer the same again, so the operator must see it; so are our
 * own configuration problems, the customer's input, and a job that is being stopped.
 */
import { t, type LocalizedText } from '../../domain/errors.ts';
import type {
  EngineOutput,
  LipSyncEngine,
  LipSyncInput,
  SpeechEngine,
  SpeechInput,
  SpeechOutput,
} from '../ports.ts';
import { EngineError } from './engine-http.ts';

/** One use of the local engine in place of a remote one (for metrics and the log). */
export interface FallbackEvent {
  /** The remote engine's name as errors and metrics spell it ("HeyGem", "CosyVoice"...). */
  engine: string;
  host: string;
  role: 'lipsync' | 'speech';
  /** The remote engine's failure (English), as the job would have ended with it. */
  reason: string;
}

export interface FallbackOptions {
  /** Counts the fallback (Metrics.observeFallback). */
  onFallback?: (event: FallbackEvent) => void;
  log?: { warn(obj: Record<string, unknown>, msg: string): void };
}

/**
 * Whether a remote engine's failure means "it could not be reached", so the local engine may stand in:
 * an EngineError with no answer from the engine at all (unreachable, or a timeout before its answer
 * began), while the job itself is not being stopped. Everything else is not.
 */
export function isUnreachable(err: unknown, signal: AbortSignal): err is EngineError {
  if (signal.aborted) return false;
  if (!(err instanceof EngineError)) return false;
  return (err.kind === 'unreachable' || err.kind === 'timeout') && err.noAnswer;
}

/** The note of a fallback: "rendered with the local engine: HeyGem at gpu:8383 did not answer ...". */
export function fallbackNote(role: FallbackEvent['role'], err: EngineError): LocalizedText {
  return role === 'lipsync'
    ? t(`已改用本地引擎生成视频：${err.detail.zh}`, `rendered with the local engine: ${err.detail.en}`)
    : t(`已改用本地引擎合成语音：${err.detail.zh}`, `spoken by the local engine: ${err.detail.en}`);
}

/** Notes of the steps of one job, in order, as one (a text work may fall back twice). */
export function joinNotes(notes: ReadonlyArray<LocalizedText | undefined>): LocalizedText | undefined {
  const present = notes.filter((n): n is LocalizedText => n !== undefined);
  if (present.length === 0) return undefined;
  return t(present.map((n) => n.zh).join('；'), present.map((n) => n.en).join('; '));
}

async function withFallback<T extends EngineOutput>(
  role: FallbackEvent['role'],
  signal: AbortSignal,
  o: FallbackOptions,
  remote: () => Promise<T>,
  local: () => Promise<T>,
  abandon?: () => Promise<void>,
): Promise<T> {
  try {
    return await remote();
  } catch (err) {
    if (!isUnreachable(err, signal)) throw err;
    await abandon?.().catch(() => undefined);
    const event: FallbackEvent = { engine: err.engine, host: err.host, role, reason: err.detail.en };
    o.log?.warn(
      { engine: event.engine, host: event.host, role, reason: event.reason },
      'remote engine unreachable: using the local engine (DHS_ENGINE_FALLBACK=local)',
    );
    o.onFallback?.(event);
    const out = await local();
    return { ...out, note: joinNotes([fallbackNote(role, err), out.note]) };
  }
}

/**
 * A remote lip-sync engine that may leave files of a job behind when it gets no answer (HeyGem's shared
 * directory): `abandon` removes them once the local engine has taken the job over.
 */
export interface AbandonableLipSync extends LipSyncEngine {
  abandon?(input: LipSyncInput): Promise<void>;
}

/** A remote lip-sync engine (HeyGem) with the local one standing in when it cannot be reached. */
export class FallbackLipSync implements LipSyncEngine {
  readonly name: string;

  constructor(
    private readonly remote: AbandonableLipSync,
    private readonly local: LipSyncEngine,
    private readonly o: FallbackOptions = {},
  ) {
    // the stage metric (lipsync_<name>) stays the remote engine's: it is the one tried first
    this.name = remote.name;
  }

  render(input: LipSyncInput): Promise<EngineOutput> {
    return withFallback(
      'lipsync',
      input.signal,
      this.o,
      () => this.remote.render(input),
      () => this.local.render(input),
      async () => {
        await this.remote.abandon?.(input);
      },
    );
  }
}

/** A remote speech engine with the local one standing in when it cannot be reached. */
export class FallbackSpeech implements SpeechEngine {
  readonly name: string;

  constructor(
    private readonly remote: SpeechEngine,
    private readonly local: SpeechEngine,
    private readonly o: FallbackOptions = {},
  ) {
    this.name = remote.name;
  }

  synthesize(input: SpeechInput): Promise<SpeechOutput> {
    return withFallback(
      'speech',
      input.signal,
      this.o,
      () => this.remote.synthesize(input),
      () => this.local.synthesize(input),
    );
  }
}
