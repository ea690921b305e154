import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { speakerBootstrap } from './stats.ts';
import type { IdTrial } from './stats.ts';

const trial = (target: string, correct: boolean, targetRank = correct ? 1 : 3): IdTrial => ({
  target,
  correct,
  targetRank,
});

describe('speakerBootstrap', () => {
  const trials: IdTrial[] = [
    trial('a', true),
    trial('a', true),
    trial('b', true),
    trial('b', false),
    trial('c', false, 5),
    trial('c', false, 2),
    trial('d', true),
    trial('d', false),
  ];

  it('pools the estimate over trials and counts speakers', () => {
    const s = speakerBootstrap(trials);
    assert.equal(s.top1.estimate, 4 / 8);
    assert.equal(s.meanRank.estimate, (1 + 1 + 1 + 3 + 5 + 2 + 1 + 3) / 8);
    assert.equal(s.speakers, 4);
    assert.equal(s.trials, 8);
  });

  it('is seeded: the same seed gives the same interval, around the estimate', () => {
    const one = speakerBootstrap(trials, { seed: 7 });
    assert.deepEqual(one, speakerBootstrap(trials, { seed: 7 }));
    const { lo, hi, estimate } = one.top1;
    assert.ok(lo !== null && hi !== null && estimate !== null);
    assert.ok(lo <= estimate && estimate <= hi && lo < hi, `${lo} ${estimate} ${hi}`);
    assert.ok(lo >= 0 && hi <= 1);
  });

  it('resamples speakers, not trials: one speaker gives no spread', () => {
    const s = speakerBootstrap([trial('a', true), trial('a', false), trial('a', false)]);
    assert.deepEqual([s.top1.lo, s.top1.hi], [1 / 3, 1 / 3]);
  });

  it('gives nulls without trials', () => {
    const s = speakerBootstrap([]);
    assert.equal(s.top1.estimate, null);
    assert.equal(s.top1.lo, null);
    assert.equal(s.speakers, 0);
  });
});
