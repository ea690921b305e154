/**
 * Identification figures with a bootstrap interval over speakers: the trials of a resampled speaker
 * all come along (a speaker's sentences are not independent of each other), and the statistic is
 * pooled over the resample's trials. The resampling itself is the lip-sync eval's seeded percentile
 * bootstrap (eval/lipsync/metrics.ts bootstrapInterval: 2000 resamples, 90%, seed 1 by default).
 */
import { bootstrapInterval } from '../lipsync/metrics.ts';
import type { BootstrapInterval } from '../lipsync/metrics.ts';

/** The part of a trial the interval needs. */
export interface IdTrial {
  target: string;
  correct: boolean;
  /** 1 = the target scored best. */
  targetRank: number;
}

export interface IdStats {
  /** Share of trials whose top-1 is the target, with its interval. */
  top1: BootstrapInterval;
  /** Mean rank of the target among the enrolled speakers (1 = best), with its interval. */
  meanRank: BootstrapInterval;
  speakers: number;
  trials: number;
}

/** Top-1 accuracy and mean target rank of `trials`, each with a bootstrap interval resampling speakers. */
export function speakerBootstrap(
  trials: readonly IdTrial[],
  opts: { iterations?: number; level?: number; seed?: number } = {},
): IdStats {
  const bySpeaker = new Map<string, IdTrial[]>();
  for (const t of trials) bySpeaker.set(t.target, [...(bySpeaker.get(t.target) ?? []), t]);
  const groups = [...bySpeaker.values()];
  const pooled =
    (value: (t: IdTrial) => number) =>
    (sample: readonly IdTrial[][]): number | null => {
      let sum = 0;
      let n = 0;
      for (const g of sample) {
        for (const t of g) {
          sum += value(t);
          n++;
        }
      }
      return n === 0 ? null : sum / n;
    };
  return {
    top1: bootstrapInterval(
      groups,
      pooled((t) => (t.correct ? 1 : 0)),
      opts,
    ),
    meanRank: bootstrapInterval(
      groups,
      pooled((t) => t.targetRank),
      opts,
    ),
    speakers: groups.length,
    trials: trials.length,
  };
}
