/**
 * Intelligibility for the voice eval: an offline English recogniser (Debian's pocketsphinx with the
 * pocketsphinx-en-us model) transcribes synthesized speech and the word error rate against the text is
 * the Levenshtein distance over normalised lowercase words divided by the reference word count.
 * Handles both Debian packagings: 0.8 (`pocketsphinx_continuous -infile x.wav`, bookworm) and 5.x
 * (`pocketsphinx live x.wav`, JSON lines).
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

export const POCKETSPHINX_INSTALL_HINT =
  'English WER needs pocketsphinx: as root run `apt-get install -y pocketsphinx pocketsphinx-en-us` ' +
  '(or with sudo); WER is reported as null until then.';

/** Lowercase words: punctuation dropped (apostrophes inside words kept), hyphens split words. */
export function normalizeWords(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[^\p{L}\p{N}' ]+/gu, ' ')
    .split(/\s+/)
    .map((w) => w.replace(/^'+|'+$/g, ''))
    .filter((w) => w.length > 0);
}

export interface EditCounts {
  substitutions: number;
  deletions: number;
  insertions: number;
  /** substitutions + deletions + insertions (the Levenshtein distance). */
  errors: number;
}

/** Minimum word edits turning `ref` into `hyp`, split by kind (ties prefer substitutions). */
export function alignWords(ref: readonly string[], hyp: readonly string[]): EditCounts {
  const n = ref.length;
  const m = hyp.length;
  // cost[i][j] over prefixes, with the edit counts that reach it.
  type Cell = { cost: number; s: number; d: number; i: number };
  let prev: Cell[] = Array.from({ length: m + 1 }, (_, j) => ({ cost: j, s: 0, d: 0, i: j }));
  for (let i = 1; i <= n; i++) {
    const row: Cell[] = [{ cost: i, s: 0, d: i, i: 0 }];
    for (let j = 1; j <= m; j++) {
      const diag = prev[j - 1] as Cell;
      const up = prev[j] as Cell;
      const left = row[j - 1] as Cell;
      const same = ref[i - 1] === hyp[j - 1];
      const sub = { cost: diag.cost + (same ? 0 : 1), s: diag.s + (same ? 0 : 1), d: diag.d, i: diag.i };
      const del = { cost: up.cost + 1, s: up.s, d: up.d + 1, i: up.i };
      const ins = { cost: left.cost + 1, s: left.s, d: left.d, i: left.i + 1 };
      let best = sub;
      if (del.cost < best.cost) best = del;
      if (ins.cost < best.cost) best = ins;
      row.push(best);
    }
    prev = row;
  }
  const end = prev[m] as Cell;
  return { substitutions: end.s, deletions: end.d, insertions: end.i, errors: end.cost };
}

export interface WerResult extends EditCounts {
  refWords: number;
  /** errors / refWords (can exceed 1 with many insertions); 0 for an empty reference and hypothesis. */
  wer: number;
}

/** Word error rate of a hypothesis transcript against the reference text. */
export function wordErrorRate(reference: string, hypothesis: string): WerResult {
  const ref = normalizeWords(reference);
  const hyp = normalizeWords(hypothesis);
  const counts = alignWords(ref, hyp);
  const wer = ref.length > 0 ? counts.errors / ref.length : hyp.length > 0 ? 1 : 0;
  return { ...counts, refWords: ref.length, wer };
}

/** Corpus WER: all errors over all reference words. */
export function pooledWer(results: readonly WerResult[]): number | null {
  let errors = 0;
  let words = 0;
  for (const r of results) {
    errors += r.errors;
    words += r.refWords;
  }
  return words > 0 ? errors / words : null;
}

/** Something that turns a 16 kHz mono 16-bit wav of English into text. */
export interface Recognizer {
  readonly name: string;
  transcribe(wavFile: string): Promise<string>;
}

function findOnPath(name: string, env: NodeJS.ProcessEnv): string | null {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

export interface PocketsphinxLocation {
  /** 'continuous': 0.8's pocketsphinx_continuous; 'v5': 5.x's `pocketsphinx live`. */
  kind: 'continuous' | 'v5';
  path: string;
}

/** The installed pocketsphinx command (DHS_POCKETSPHINX names one outright), or null. */
export function findPocketsphinx(env: NodeJS.ProcessEnv = process.env): PocketsphinxLocation | null {
  const named = env['DHS_POCKETSPHINX'];
  if (named) return { kind: /pocketsphinx_continuous$/.test(named) ? 'continuous' : 'v5', path: named };
  const continuous = findOnPath('pocketsphinx_continuous', env);
  if (continuous) return { kind: 'continuous', path: continuous };
  const v5 = findOnPath('pocketsphinx', env);
  if (v5) return { kind: 'v5', path: v5 };
  return null;
}

/** Transcript from 5.x JSON-lines output ({"t": "text", ...} per utterance); other lines are ignored. */
export function parseV5Output(stdout: string): string {
  const words: string[] = [];
  for (const line of stdout.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed.startsWith('{')) continue;
    try {
      const parsed = JSON.parse(trimmed) as { t?: unknown };
      if (typeof parsed.t === 'string' && parsed.t.trim()) words.push(parsed.t.trim());
    } catch {
      // not JSON
    }
  }
  return words.join(' ');
}

/** Transcript from 0.8's stdout: one line per detected utterance; stray log lines (INFO:...) dropped. */
export function parseContinuousOutput(stdout: string): string {
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !/^(INFO|WARN|WARNING|ERROR|FATAL)[:_ ]/.test(l))
    .join(' ');
}

const TRANSCRIBE_TIMEOUT_MS = 120_000;

export class PocketsphinxRecognizer implements Recognizer {
  readonly name: string;

  constructor(private readonly location: PocketsphinxLocation) {
    this.name = location.kind === 'continuous' ? 'pocketsphinx_continuous (0.8)' : 'pocketsphinx live (5.x)';
  }

  transcribe(wavFile: string): Promise<string> {
    const args =
      this.location.kind === 'continuous'
        ? ['-infile', wavFile, '-logfn', '/dev/null']
        : ['-loglevel', 'FATAL', 'live', wavFile];
    return new Promise((resolve, reject) => {
      execFile(
        this.location.path,
        args,
        { timeout: TRANSCRIBE_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (err) {
            reject(
              new Error(`${this.name} failed on ${wavFile}: ${err.message} ${String(stderr).slice(-500)}`),
            );
            return;
          }
          const text = String(stdout);
          resolve(this.location.kind === 'continuous' ? parseContinuousOutput(text) : parseV5Output(text));
        },
      );
    });
  }
}

/** The pocketsphinx recogniser when installed, else null (callers print POCKETSPHINX_INSTALL_HINT). */
export function pocketsphinxRecognizer(env: NodeJS.ProcessEnv = process.env): PocketsphinxRecognizer | null {
  const location = findPocketsphinx(env);
  return location ? new PocketsphinxRecognizer(location) : null;
}

/** Writes mono float PCM as a 16-bit PCM wav (what pocketsphinx reads). */
export async function writeWav16(pcm: Float32Array, sampleRate: number, file: string): Promise<void> {
  const data = Buffer.alloc(pcm.length * 2);
  for (let i = 0; i < pcm.length; i++) {
    const v = Math.max(-1, Math.min(1, pcm[i] as number));
    data.writeInt16LE(Math.round(v < 0 ? v * 32768 : v * 32767), i * 2);
  }
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVE', 8, 'ascii');
  h.write('fmt ', 12, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(data.length, 40);
  await writeFile(file, Buffer.concat([h, data]));
}
