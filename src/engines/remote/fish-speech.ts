/**
 * fish-speech's API server (fishaudio/fish-speech tools/api_server.py, tools/server/views.py,
 * fish_speech/utils/schema.py): `POST /v1/tts` with a JSON ServeTTSRequest — `text`, `references`
 * [{`audio` (bytes; a string longer than 255 characters is read as base64), `text`}], `format`,
 * `normalize`, `seed`, `use_memory_cache`... — answers the audio file; errors are
 * `{statusCode, message, error}`. Started with `--api-key`, every route (health too) wants
 * `Authorization: Bearer <key>` and answers 401 "Invalid token" otherwise (DHS_FISH_SPEECH_API_KEY).
 *
 * Its references are in-context prompts: the transcript is expected; without one it is sent empty and
 * the model conditions on the clip's sound alone (docs/engines.md: the trade-off). The text arrives
 * normalised by our own normaliser, so the engine's is turned off (`normalize: false`: it reads what
 * the local engine would). A seed per voice keeps every piece of a text in the same delivery.
 */
import { readFile } from 'node:fs/promises';
import type { FishSpeechConfig } from './config.ts';
import { EngineHttp, type EngineObserver } from './engine-http.ts';
import type { ReferenceClip } from './reference.ts';
import { MAX_PIECE_BYTES, type PieceAudio, type PieceRequest, type SpeechBackend } from './speech.ts';

export const FISH_SPEECH = 'fish-speech';

/** The /v1/tts body for one piece. */
export function fishSpeechBody(
  text: string,
  reference: ReferenceClip,
  audio: Buffer,
): Record<string, unknown> {
  return {
    text,
    references: [{ audio: audio.toString('base64'), text: reference.text ?? '' }],
    format: 'wav',
    normalize: false,
    streaming: false,
    // the server keeps the encoded reference by its hash: later pieces skip encoding it again
    use_memory_cache: 'on',
    seed: parseInt(reference.sha256.slice(0, 7), 16),
  };
}

export class FishSpeechBackend implements SpeechBackend {
  readonly http: EngineHttp;

  constructor(cfg: FishSpeechConfig, observer?: EngineObserver) {
    this.http = new EngineHttp(FISH_SPEECH, cfg.url, {
      timeoutMs: cfg.timeoutMs,
      ...(observer === undefined ? {} : { observer }),
      ...(cfg.apiKey === undefined ? {} : { headers: { authorization: `Bearer ${cfg.apiKey}` } }),
    });
  }

  async speak(req: PieceRequest): Promise<PieceAudio> {
    const { contentType } = await this.http.toFile('tts', '/v1/tts', req.outFile, {
      json: fishSpeechBody(req.text, req.reference, await readFile(req.referenceFile)),
      maxBytes: MAX_PIECE_BYTES,
      signal: req.signal,
    });
    if (!/^audio\//i.test(contentType)) {
      const head = (await readFile(req.outFile)).subarray(0, 120).toString('utf8');
      throw this.http.garbage(`${contentType || 'no content type'} instead of audio/wav: ${head}`);
    }
    return { kind: 'file', file: req.outFile };
  }
}
