/**
 * `npm run eval:voice`: the measuring stick for voice adaptation. For every real speaker (speakers.ts)
 * a LITE and a PRO voice is trained on the speaker's enrolment audio with the VoiceTrainer, and fixed
 * sentences are synthesized with the SpeechEngine in that voice and in the default voice (voice: null).
 * Measured per condition (LITE / PRO / default):
 * - speaker identification: a closed-set GMM-UBM identifier over MFCCs (gmm.ts, mfcc.ts), enrolled on
 *   the real speakers' own enrolment audio, names the speaker of each synthesized sentence (in the
 *   speaker's own language and in the other one); accuracy of top-1 == target, the target's mean LLR
 *   and rank, against chance (1 / speakers). The identifier's accuracy on the speakers' held-out real
 *   speech is the reference row: if that is low, the identifier is useless.
 * - intelligibility: English sentences transcribed by pocketsphinx (wer.ts), pooled word error rate.
 * - real-time factor: synthesis wall time / seconds of audio, measured with nothing else running.
 * Writes eval-results/voice.json (or eval-results/NAME.json with --out=NAME) and prints a table. The engine and trainer are injected
 * (runVoiceEval), so a later engine is judged by this same code.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { SpeechLanguage, VoiceProfile, VoiceTier } from '../../src/domain/voice.ts';
import type { SpeechEngine, VoiceTrainer } from '../../src/engines/ports.ts';
import type { MediaTool } from '../../src/repositories/media.ts';
import { GmmUbmIdentifier, mulberry32 } from './gmm.ts';
import type { IdentifierOptions, SpeakerScore } from './gmm.ts';
import { concatRows, mfcc, resolveMfccOptions } from './mfcc.ts';
import type { FrameMatrix, MfccOptions } from './mfcc.ts';
import {
  ENROL_FRACTION,
  EVAL_SAMPLE_RATE,
  loadSpeakers,
  SPEAKERS,
  splitPoint,
  TUNING_SPEAKERS,
} from './speakers.ts';
import type { Speaker, SpeakerSource } from './speakers.ts';
import { speakerBootstrap } from './stats.ts';
import type { IdStats } from './stats.ts';
import { POCKETSPHINX_INSTALL_HINT, pooledWer, wordErrorRate, writeWav16 } from './wer.ts';
import type { Recognizer, WerResult } from './wer.ts';

export type Condition = VoiceTier | 'default';
/** The identifier's own check on real speech: enrolment first (the models used above) or reversed. */
export type RealCondition = 'real held-out' | 'real held-out, reversed split';

export interface EvalSentences {
  /** Spoken for WER and, as a language of its own, for identification. */
  en: readonly string[];
  zh: readonly string[];
}

/** Everyday words the recogniser's language model knows; no digits (normalisation would differ). */
export const DEFAULT_SENTENCES: EvalSentences = {
  en: [
    'Please call me back when you have a moment this afternoon.',
    'The weather was cold, so we stayed inside and read our books.',
    'She opened the window and looked at the children playing in the garden.',
    'We need to finish the report before the meeting on Friday morning.',
  ],
  zh: [
    '今天天气很好，我们一起去公园散步吧。',
    '这个问题很重要，我们需要认真讨论一下。',
    '请在明天上午之前把报告发给我。',
  ],
};

/** The issue's targets. */
export const TARGETS = {
  LITE: { idAccuracy: 0.6, wer: 0.25, rtf: 0.05 },
  PRO: { idAccuracy: 0.8, wer: 0.25, rtf: 0.3 },
} as const;

export interface VoiceEvalOptions {
  engine: SpeechEngine;
  trainer: VoiceTrainer;
  /** Decoding and encoding audio (FfmpegMedia). */
  media: MediaTool;
  /** Folder holding the speakers' files (shared/media). */
  mediaDir: string;
  speakers?: readonly SpeakerSource[];
  /** English recogniser for WER; null: WER is reported as null. */
  recognizer: Recognizer | null;
  sentences?: EvalSentences;
  tiers?: readonly VoiceTier[];
  identifier?: IdentifierOptions;
  mfcc?: MfccOptions;
  /** Seed of the identifier's RNG (default 1). */
  seed?: number;
  /** Parallel feature/recognition jobs after synthesis (default 2). */
  concurrency?: number;
  /** Where synthesized audio goes; default a temp dir that is removed afterwards. */
  workDir?: string;
  log?: (line: string) => void;
}

export interface TrialRecord {
  target: string;
  condition: Condition | RealCondition;
  lang: SpeechLanguage;
  crossLanguage: boolean;
  sentence: number;
  top1: string;
  correct: boolean;
  targetLlr: number;
  /** 1 = the target scored best. */
  targetRank: number;
  /** Target LLR minus the best other speaker's LLR (> 0 when identified). */
  targetMargin: number;
  top3: SpeakerScore[];
  frames: number;
}

export interface WerRecord {
  target: string | null;
  condition: Condition;
  sentence: number;
  reference: string;
  hypothesis: string;
  wer: WerResult;
}

export interface ConditionSummary {
  condition: Condition | RealCondition;
  idTrials: number;
  idAccuracy: number | null;
  idAccuracyOwnLanguage: number | null;
  idAccuracyCrossLanguage: number | null;
  meanTargetLlr: number | null;
  meanTargetRank: number | null;
  meanTargetMargin: number | null;
  /** Which speaker the identifier named, how often. */
  predicted: Record<string, number>;
  wer: number | null;
  werSentences: number;
  rtf: number | null;
  synthSeconds: number | null;
  audioSeconds: number | null;
  meanTrainSeconds: number | null;
  target: { idAccuracy: number; wer: number; rtf: number } | null;
  pass: { idAccuracy: boolean; wer: boolean | null; rtf: boolean } | null;
}

export interface SpeakerRecord {
  id: string;
  language: SpeechLanguage;
  kind: string;
  seconds: number;
  enrolSeconds: number;
  heldOutSeconds: number;
  enrolFrames: number;
  heldOutFrames: number;
  voices: Partial<
    Record<
      VoiceTier,
      { trainedOn: 'enrolment' | 'whole file' | 'failed'; error?: string; profile?: VoiceProfile }
    >
  >;
}

export interface PerSpeaker {
  id: string;
  /** Correct / trials and mean target LLR per condition. */
  conditions: Record<
    string,
    { correct: number; trials: number; meanTargetLlr: number | null; namedMostOften: string }
  >;
  /** Whom the identifier named for this speaker's held-out real speech. */
  realHeldOutTop1: string | null;
}

/** Which speakers a row of the identification table covers. */
export type SpeakerSet = 'all' | 'held-out' | 'tuned-on';

/**
 * One row of the identification table: a condition over a set of speakers and a language (of the
 * spoken sentence; for real speech the speaker's own), with bootstrap 90% intervals over speakers.
 */
export interface IdRow extends IdStats {
  condition: Condition | 'real held-out';
  speakerSet: SpeakerSet;
  lang: SpeechLanguage | 'all';
}

export interface VoiceEvalReport {
  generatedAt: string;
  machine: { cpus: number; cpuModel: string; node: string };
  engine: string;
  trainer: string;
  recognizer: string | null;
  recognizerNote: string | null;
  speakers: SpeakerRecord[];
  chance: number;
  identifier: {
    components: number;
    relevance: number;
    mfcc: Required<MfccOptions>;
    enrolFraction: number;
    seed: number;
    trainSeconds: number;
  };
  sentences: EvalSentences;
  summary: ConditionSummary[];
  trials: TrialRecord[];
  /** The identifier on the speakers' held-out real speech (first ENROL_FRACTION enrolled, the rest tested). */
  realTrials: TrialRecord[];
  /** The same with a second identifier enrolled on the last ENROL_FRACTION and tested on the start. */
  realTrialsReversed: TrialRecord[];
  /** Per target speaker: identification per condition. */
  perSpeaker: PerSpeaker[];
  /**
   * Speakers left out of every identification score (still enrolled in the identifier, as distractors):
   * those for which a tier's voice could not be trained. Rule: a voice that cannot be trained has no
   * output to judge, so its trials are not counted (neither as hits nor as misses) for any condition.
   */
  excluded: { id: string; reason: string }[];
  /** Speakers held out of every engine choice (not in TUNING_SPEAKERS), scored ones only. */
  heldOutSpeakers: string[];
  /** Top-1 and mean rank with bootstrap 90% intervals over speakers (seed 1, 2000 resamples). */
  identification: IdRow[];
  werDetails: WerRecord[];
  warmupSeconds: number;
  runtimeSeconds: number;
}

const mean = (xs: readonly number[]): number | null =>
  xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : null;

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/** A trial from the identifier's scores. */
function judge(
  scores: SpeakerScore[],
  target: string,
): Omit<TrialRecord, 'condition' | 'lang' | 'crossLanguage' | 'sentence' | 'frames' | 'target'> {
  const rank = scores.findIndex((s) => s.id === target) + 1;
  const targetLlr = scores[rank - 1]?.llr ?? Number.NaN;
  const bestOther = scores.find((s) => s.id !== target)?.llr ?? Number.NaN;
  const top1 = scores[0]?.id ?? '';
  return {
    top1,
    correct: top1 === target,
    targetLlr,
    targetRank: rank,
    targetMargin: targetLlr - bestOther,
    top3: scores.slice(0, 3).map((s) => ({ id: s.id, llr: Number(s.llr.toFixed(4)) })),
  };
}

function summarizeTrials(
  condition: ConditionSummary['condition'],
  trials: readonly TrialRecord[],
): Pick<
  ConditionSummary,
  | 'condition'
  | 'idTrials'
  | 'idAccuracy'
  | 'idAccuracyOwnLanguage'
  | 'idAccuracyCrossLanguage'
  | 'meanTargetLlr'
  | 'meanTargetRank'
  | 'meanTargetMargin'
  | 'predicted'
> {
  const acc = (ts: readonly TrialRecord[]): number | null => mean(ts.map((t) => (t.correct ? 1 : 0)));
  const predicted: Record<string, number> = {};
  for (const t of trials) predicted[t.top1] = (predicted[t.top1] ?? 0) + 1;
  return {
    condition,
    idTrials: trials.length,
    idAccuracy: acc(trials),
    idAccuracyOwnLanguage: acc(trials.filter((t) => !t.crossLanguage)),
    idAccuracyCrossLanguage: acc(trials.filter((t) => t.crossLanguage)),
    meanTargetLlr: mean(trials.map((t) => t.targetLlr)),
    meanTargetRank: mean(trials.map((t) => t.targetRank)),
    meanTargetMargin: mean(trials.map((t) => t.targetMargin)),
    predicted: Object.fromEntries(Object.entries(predicted).sort((a, b) => b[1] - a[1])),
  };
}

interface Synthesized {
  /** null for the default voice: its outputs serve every target. */
  target: Speaker | null;
  condition: Condition;
  lang: SpeechLanguage;
  sentence: number;
  text: string;
  file: string;
  synthSeconds: number;
}

/** The whole eval; see the module comment. */
export async function runVoiceEval(opts: VoiceEvalOptions): Promise<VoiceEvalReport> {
  const started = performance.now();
  const log = opts.log ?? (() => undefined);
  const sentences = opts.sentences ?? DEFAULT_SENTENCES;
  const tiers = opts.tiers ?? (['LITE', 'PRO'] as const);
  const seed = opts.seed ?? 1;
  const mfccOpts = resolveMfccOptions({ sampleRate: EVAL_SAMPLE_RATE, ...opts.mfcc });
  const components = opts.identifier?.components ?? 64;
  const relevance = opts.identifier?.relevance ?? 16;
  const concurrency = opts.concurrency ?? 2;
  const ownWorkDir = opts.workDir === undefined;
  const workDir = opts.workDir ?? (await mkdtemp(join(tmpdir(), 'dhs-eval-voice-')));
  await mkdir(workDir, { recursive: true });
  const signal = new AbortController().signal;

  try {
    // 1. Real speakers, their features, the identifier.
    log('loading speakers');
    const speakers = await loadSpeakers(opts.media, opts.mediaDir, workDir, opts.speakers ?? SPEAKERS);
    const enrolFeatures = new Map<string, FrameMatrix>();
    const heldOutFeatures = new Map<string, FrameMatrix>();
    for (const s of speakers) {
      enrolFeatures.set(s.id, mfcc(s.enrolPcm, mfccOpts).features);
      heldOutFeatures.set(s.id, mfcc(s.heldOutPcm, mfccOpts).features);
    }
    log(`training the identifier on ${concatRows([...enrolFeatures.values()]).count} frames`);
    const t0 = performance.now();
    const identifierOptions = {
      ...opts.identifier,
      components,
      relevance,
      rng: opts.identifier?.rng ?? mulberry32(seed),
    };
    const identifier = GmmUbmIdentifier.train(enrolFeatures, identifierOptions);
    const identifierSeconds = (performance.now() - t0) / 1000;
    const realTrials = realSpeechTrials(identifier, speakers, heldOutFeatures, 'real held-out');
    // A second opinion on real speech (more trials, other text): enrol on the end, test the start.
    const reversedEnrol = new Map<string, FrameMatrix>();
    const reversedTest = new Map<string, FrameMatrix>();
    for (const s of speakers) {
      const cut = s.pcm.length - splitPoint(s.pcm.length, ENROL_FRACTION);
      reversedEnrol.set(s.id, mfcc(s.pcm.subarray(cut), mfccOpts).features);
      reversedTest.set(s.id, mfcc(s.pcm.subarray(0, cut), mfccOpts).features);
    }
    const realTrialsReversed = realSpeechTrials(
      GmmUbmIdentifier.train(reversedEnrol, { ...identifierOptions, rng: mulberry32(seed) }),
      speakers,
      reversedTest,
      'real held-out, reversed split',
    );

    // 2. Voices.
    const records = new Map<string, SpeakerRecord>();
    for (const s of speakers) {
      records.set(s.id, {
        id: s.id,
        language: s.language,
        kind: s.kind,
        seconds: round(s.pcm.length / EVAL_SAMPLE_RATE, 2),
        enrolSeconds: round(s.enrolPcm.length / EVAL_SAMPLE_RATE, 2),
        heldOutSeconds: round(s.heldOutPcm.length / EVAL_SAMPLE_RATE, 2),
        enrolFrames: enrolFeatures.get(s.id)?.count ?? 0,
        heldOutFrames: heldOutFeatures.get(s.id)?.count ?? 0,
        voices: {},
      });
    }
    const voices = new Map<string, VoiceProfile>();
    const trainSeconds: Record<string, number[]> = {};
    for (const tier of tiers) {
      trainSeconds[tier] = [];
      for (const s of speakers) {
        const record = records.get(s.id) as SpeakerRecord;
        const dir = join(workDir, 'train', `${s.id}-${tier}`);
        const train = async (file: string): Promise<VoiceProfile> => {
          const tStart = performance.now();
          const profile = await opts.trainer.train({ audioFiles: [file], tier, workDir: dir, signal });
          trainSeconds[tier]?.push((performance.now() - tStart) / 1000);
          voices.set(`${s.id}/${tier}`, profile);
          return profile;
        };
        try {
          record.voices[tier] = { trainedOn: 'enrolment', profile: await train(s.enrolFile) };
        } catch (first) {
          // Too little speech in the enrolment part (a short recording): train on the whole file.
          try {
            record.voices[tier] = {
              trainedOn: 'whole file',
              error: errorText(first),
              profile: await train(s.fullFile),
            };
          } catch (second) {
            // No voice: its identification trials count as misses below.
            record.voices[tier] = { trainedOn: 'failed', error: errorText(second) };
          }
        }
      }
      log(`trained ${tier} voices`);
    }

    // 3. Synthesis, timed, one at a time.
    const jobs: Omit<Synthesized, 'file' | 'synthSeconds'>[] = [];
    const langs: SpeechLanguage[] = ['en', 'zh'];
    for (const lang of langs) {
      sentences[lang].forEach((text, i) =>
        jobs.push({ target: null, condition: 'default', lang, sentence: i, text }),
      );
    }
    for (const tier of tiers) {
      for (const s of speakers) {
        if (!voices.has(`${s.id}/${tier}`)) continue;
        for (const lang of langs) {
          sentences[lang].forEach((text, i) =>
            jobs.push({ target: s, condition: tier, lang, sentence: i, text }),
          );
        }
      }
    }
    const synthDir = join(workDir, 'synth');
    await mkdir(synthDir, { recursive: true });
    const speak = (job: Omit<Synthesized, 'file' | 'synthSeconds'>, file: string) =>
      opts.engine.synthesize({
        text: job.text,
        voice: job.target ? (voices.get(`${job.target.id}/${job.condition}`) ?? null) : null,
        speedRatio: 1,
        pitchRatio: 1,
        volumeRatio: 1,
        crossLanguage: job.target !== null && job.lang !== job.target.language,
        outFile: file,
        workDir: join(workDir, 'engine'),
        onProgress: () => undefined,
        signal,
      });
    // Warm-up (loading models, first-call costs), not counted in the real-time factor.
    const tWarm = performance.now();
    const firstJob = jobs[0];
    if (firstJob) await speak(firstJob, join(synthDir, 'warmup.wav'));
    const warmupSeconds = (performance.now() - tWarm) / 1000;
    log(`synthesizing ${jobs.length} sentences`);
    const synthesized: Synthesized[] = [];
    for (const job of jobs) {
      const file = join(
        synthDir,
        `${job.target?.id ?? 'default'}-${job.condition}-${job.lang}${job.sentence}.wav`,
      );
      const tStart = performance.now();
      await speak(job, file);
      synthesized.push({ ...job, file, synthSeconds: (performance.now() - tStart) / 1000 });
    }

    // 4. Identification and recognition, `concurrency` at a time.
    if (!opts.recognizer) log(POCKETSPHINX_INSTALL_HINT);
    log(`scoring${opts.recognizer ? ' and transcribing' : ''}`);
    const analysed = await pool(synthesized, concurrency, async (item) => {
      const pcm = await opts.media.decodeAudio(item.file, EVAL_SAMPLE_RATE);
      const features = mfcc(pcm, mfccOpts).features;
      const scores = features.count > 0 ? identifier.score(features) : [];
      let werRecord: WerRecord | null = null;
      if (item.lang === 'en' && opts.recognizer) {
        const wav16 = item.file.replace(/\.wav$/, '-16k.wav');
        await writeWav16(pcm, EVAL_SAMPLE_RATE, wav16);
        const hypothesis = await opts.recognizer.transcribe(wav16);
        werRecord = {
          target: item.target?.id ?? null,
          condition: item.condition,
          sentence: item.sentence,
          reference: item.text,
          hypothesis,
          wer: wordErrorRate(item.text, hypothesis),
        };
      }
      return { item, audioSeconds: pcm.length / EVAL_SAMPLE_RATE, scores, frames: features.count, werRecord };
    });

    // A speaker with a tier that could not be trained is left out of every identification score.
    const excluded = speakers.flatMap((s) => {
      const failed = tiers.filter((tier) => !voices.has(`${s.id}/${tier}`));
      if (failed.length === 0) return [];
      const error = records.get(s.id)?.voices[failed[0] as VoiceTier]?.error ?? '';
      const code = /^(\d{5}) /.exec(error)?.[1];
      return [
        { id: s.id, reason: `not trainable${code ? ` (${code})` : ''} in ${failed.join(', ')}: ${error}` },
      ];
    });
    const excludedIds = new Set(excluded.map((e) => e.id));
    const scored = (t: TrialRecord): boolean => !excludedIds.has(t.target);
    // 5. Trials: a voice's outputs are judged against its own speaker; the default voice's against every
    // speaker in turn (its own-language sentences are those in that speaker's language).
    const trials: TrialRecord[] = [];
    for (const a of analysed) {
      const targets = a.item.target ? [a.item.target] : speakers;
      for (const target of targets) {
        if (excludedIds.has(target.id)) continue;
        trials.push({
          target: target.id,
          condition: a.item.condition,
          lang: a.item.lang,
          crossLanguage: a.item.lang !== target.language,
          sentence: a.item.sentence,
          frames: a.frames,
          ...(a.scores.length > 0 ? judge(a.scores, target.id) : noFrames(speakers.length)),
        });
      }
    }
    const werDetails = analysed.flatMap((a) => (a.werRecord ? [a.werRecord] : []));

    const summary: ConditionSummary[] = [];
    const conditions: Condition[] = [...tiers, 'default'];
    for (const condition of conditions) {
      const mine = analysed.filter((a) => a.item.condition === condition);
      const synthSeconds = mine.reduce((n, a) => n + a.item.synthSeconds, 0);
      const audioSeconds = mine.reduce((n, a) => n + a.audioSeconds, 0);
      const wers = werDetails.filter((w) => w.condition === condition);
      const rtf = audioSeconds > 0 ? synthSeconds / audioSeconds : null;
      const wer = opts.recognizer ? pooledWer(wers.map((w) => w.wer)) : null;
      const base = summarizeTrials(
        condition,
        trials.filter((t) => t.condition === condition),
      );
      const target = condition === 'default' ? null : TARGETS[condition];
      summary.push({
        ...base,
        wer,
        werSentences: wers.length,
        rtf,
        synthSeconds,
        audioSeconds,
        meanTrainSeconds: condition === 'default' ? null : mean(trainSeconds[condition] ?? []),
        target,
        pass: target
          ? {
              idAccuracy: (base.idAccuracy ?? 0) >= target.idAccuracy,
              wer: wer === null ? null : wer <= target.wer,
              rtf: rtf !== null && rtf <= target.rtf,
            }
          : null,
      });
    }
    for (const [condition, real] of [
      ['real held-out', realTrials.filter(scored)],
      ['real held-out, reversed split', realTrialsReversed.filter(scored)],
    ] as const) {
      summary.push({
        ...summarizeTrials(condition, real),
        wer: null,
        werSentences: 0,
        rtf: null,
        synthSeconds: null,
        audioSeconds: null,
        meanTrainSeconds: null,
        target: null,
        pass: null,
      });
    }

    // Identification with intervals: all scored speakers, those held out of every engine choice, and
    // those the engine's settings were chosen on; each over both languages and per language.
    const scoredReal = realTrials.filter(scored);
    const heldOutSpeakers = speakers
      .map((s) => s.id)
      .filter((id) => !excludedIds.has(id) && !TUNING_SPEAKERS.has(id));
    const inSet = (set: SpeakerSet, id: string): boolean =>
      set === 'all' || (set === 'held-out') !== TUNING_SPEAKERS.has(id);
    const identification: IdRow[] = [];
    for (const condition of [...conditions, 'real held-out'] as const) {
      const pool =
        condition === 'real held-out' ? scoredReal : trials.filter((t) => t.condition === condition);
      for (const speakerSet of ['all', 'held-out', 'tuned-on'] as const) {
        for (const lang of ['all', 'en', 'zh'] as const) {
          const mine = pool.filter((t) => inSet(speakerSet, t.target) && (lang === 'all' || t.lang === lang));
          identification.push({ condition, speakerSet, lang, ...speakerBootstrap(mine, { seed }) });
        }
      }
    }

    const perSpeaker: PerSpeaker[] = speakers.map((s) => {
      const conditionsOf: PerSpeaker['conditions'] = {};
      for (const condition of conditions) {
        const mine = trials.filter((t) => t.target === s.id && t.condition === condition);
        const named = summarizeTrials(condition, mine).predicted;
        conditionsOf[condition] = {
          correct: mine.filter((t) => t.correct).length,
          trials: mine.length,
          meanTargetLlr: mean(mine.map((t) => t.targetLlr)),
          namedMostOften: Object.keys(named)[0] ?? '',
        };
      }
      return {
        id: s.id,
        conditions: conditionsOf,
        realHeldOutTop1: realTrials.find((t) => t.target === s.id)?.top1 ?? null,
      };
    });

    const cpu = cpus();
    return {
      generatedAt: new Date().toISOString(),
      machine: { cpus: cpu.length, cpuModel: cpu[0]?.model ?? 'unknown', node: process.version },
      engine: opts.engine.name,
      trainer: opts.trainer.constructor.name,
      recognizer: opts.recognizer?.name ?? null,
      recognizerNote: opts.recognizer ? null : POCKETSPHINX_INSTALL_HINT,
      speakers: [...records.values()],
      chance: 1 / speakers.length,
      identifier: {
        components,
        relevance,
        mfcc: mfccOpts,
        enrolFraction: ENROL_FRACTION,
        seed,
        trainSeconds: round(identifierSeconds, 2),
      },
      sentences,
      summary,
      trials,
      realTrials,
      realTrialsReversed,
      perSpeaker,
      excluded,
      heldOutSpeakers,
      identification,
      werDetails,
      warmupSeconds: round(warmupSeconds, 3),
      runtimeSeconds: round((performance.now() - started) / 1000, 1),
    };
  } finally {
    if (ownWorkDir) await rm(workDir, { recursive: true, force: true });
  }
}

function realSpeechTrials(
  identifier: GmmUbmIdentifier,
  speakers: readonly Speaker[],
  test: ReadonlyMap<string, FrameMatrix>,
  condition: RealCondition,
): TrialRecord[] {
  return speakers.map((s) => {
    const x = test.get(s.id) as FrameMatrix;
    return {
      target: s.id,
      condition,
      lang: s.language,
      crossLanguage: false,
      sentence: -1,
      frames: x.count,
      ...(x.count > 0 ? judge(identifier.score(x), s.id) : noFrames(speakers.length)),
    };
  });
}

/** A trial whose audio held no speech frames: counted as a miss. */
function noFrames(speakerCount: number): ReturnType<typeof judge> {
  return {
    top1: '',
    correct: false,
    targetLlr: Number.NaN,
    targetRank: speakerCount,
    targetMargin: Number.NaN,
    top3: [],
  };
}

/** The error's message, led by its code when it has one (AppError: "20014 invalid audio duration: ..."). */
function errorText(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  return typeof code === 'number' ? `${code} ${message}` : message;
}

function round(x: number, digits: number): number {
  return Number(x.toFixed(digits));
}

const fmt = (x: number | null | undefined, digits = 3): string | number =>
  x === null || x === undefined || Number.isNaN(x) ? '-' : round(x, digits);

/** One row per condition for console.table. */
export function summaryTable(report: VoiceEvalReport): Record<string, Record<string, string | number>> {
  const rows: Record<string, Record<string, string | number>> = {};
  for (const s of report.summary) {
    rows[s.condition] = {
      'id accuracy': fmt(s.idAccuracy),
      'own lang': fmt(s.idAccuracyOwnLanguage),
      'cross lang': fmt(s.idAccuracyCrossLanguage),
      'mean target LLR': fmt(s.meanTargetLlr),
      'mean target rank': fmt(s.meanTargetRank, 2),
      WER: fmt(s.wer),
      RTF: fmt(s.rtf, 4),
      trials: s.idTrials,
      target: s.target
        ? `id>=${s.target.idAccuracy} WER<=${s.target.wer} RTF<=${s.target.rtf}`
        : s.condition === 'default'
          ? `chance ${fmt(report.chance)}`
          : 'sanity: must be high',
    };
  }
  return rows;
}

const ci = (b: IdStats['top1'], digits: number): string =>
  `${fmt(b.estimate, digits)} [${fmt(b.lo, digits)}, ${fmt(b.hi, digits)}]`;

/** The identification rows for console.table. */
export function identificationTable(
  report: VoiceEvalReport,
): Record<string, Record<string, string | number>> {
  const rows: Record<string, Record<string, string | number>> = {};
  for (const r of report.identification) {
    rows[`${r.condition} / ${r.speakerSet} / ${r.lang}`] = {
      top1: ci(r.top1, 2),
      'mean rank': ci(r.meanRank, 1),
      speakers: r.speakers,
      trials: r.trials,
    };
  }
  return rows;
}

async function main(): Promise<void> {
  // Imported here so that importing runVoiceEval pulls in neither espeak nor the test helpers.
  const [
    { EspeakSpeechEngine },
    { BasicVoiceTrainer },
    { sharedMediaDir, testMedia },
    { pocketsphinxRecognizer },
  ] = await Promise.all([
    import('../../src/engines/voice/espeak-tts.ts'),
    import('../../src/engines/voice/basic-trainer.ts'),
    import('../../test/helpers/fixtures.ts'),
    import('./wer.ts'),
  ]);
  const args = process.argv.slice(2);
  const only = args.find((a) => a.startsWith('--speakers='))?.slice('--speakers='.length);
  const keepAudio = args.includes('--keep-audio');
  const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
  const outDir = join(repoRoot, 'eval-results');
  await mkdir(outDir, { recursive: true });
  const speakers = only ? SPEAKERS.filter((s) => only.split(',').includes(s.id)) : SPEAKERS;
  if (speakers.length === 0) throw new Error(`no speaker matches --speakers=${only}`);

  const media = testMedia();
  const recognizer = pocketsphinxRecognizer();
  if (!recognizer) console.warn(POCKETSPHINX_INSTALL_HINT);
  const workDir = keepAudio ? join(outDir, 'voice-audio') : undefined;
  if (workDir) await rm(workDir, { recursive: true, force: true });
  const report = await runVoiceEval({
    engine: new EspeakSpeechEngine(media),
    trainer: new BasicVoiceTrainer(media),
    media,
    mediaDir: sharedMediaDir(),
    speakers,
    recognizer,
    ...(workDir ? { workDir } : {}),
    log: (line) => console.error(`[eval:voice] ${line}`),
  });
  const outName = args.find((a) => a.startsWith('--out='))?.slice('--out='.length);
  if (outName !== undefined && !/^[\w.-]+$/.test(outName))
    throw new Error(`--out=${outName}: a plain file name`);
  const outFile = join(outDir, `${outName ?? 'voice'}.json`);
  await writeFile(outFile, `${JSON.stringify(report, null, 2)}\n`);
  console.log(
    `engine ${report.engine}, trainer ${report.trainer}, ${report.speakers.length} speakers (chance ${fmt(report.chance)}), recognizer ${report.recognizer ?? 'none'}`,
  );
  console.table(summaryTable(report));
  for (const s of report.speakers) {
    const how = (['LITE', 'PRO'] as const)
      .map((tier) => `${tier} ${s.voices[tier]?.trainedOn ?? '-'}`)
      .join(', ');
    console.log(`${s.id.padEnd(28)} ${s.seconds} s (${s.language}): ${how}`);
  }
  for (const e of report.excluded) console.log(`${e.id}: ${e.reason}; excluded from the scores`);
  console.log(`held out of every engine choice: ${report.heldOutSpeakers.join(', ')}`);
  console.log('identification (bootstrap 90% intervals over speakers):');
  console.table(identificationTable(report));
  for (const s of report.summary) {
    const named = Object.entries(s.predicted)
      .slice(0, 5)
      .map(([id, n]) => `${id} ${n}`)
      .join(', ');
    console.log(`${s.condition}: named most often: ${named}`);
  }
  for (const trials of [report.realTrials, report.realTrialsReversed]) {
    const missed = trials
      .filter((t) => !t.correct && !report.excluded.some((e) => e.id === t.target))
      .map((t) => `${t.target} -> ${t.top1}`);
    if (missed.length > 0) console.log(`${trials[0]?.condition} misidentified: ${missed.join(', ')}`);
  }
  console.log(`wrote ${outFile} in ${report.runtimeSeconds} s${workDir ? `; audio kept in ${workDir}` : ''}`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
