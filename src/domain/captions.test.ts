import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  CUE_MAX_LINES,
  LINE_WIDTH,
  buildCues,
  escapeVtt,
  formatTimestamp,
  textWidth,
  toSrt,
  toWebVtt,
  wrapText,
  type Cue,
  type TimedText,
} from './captions.ts';

/** Text with whitespace and punctuation removed: what the words are, whatever the cuts. */
const words = (text: string): string => text.replace(/[\s\p{P}\p{S}]+/gu, '');

const cueText = (cues: readonly Cue[]): string => cues.map((c) => c.lines.join(' ')).join(' ');

/** Consecutive segments with pauses between them, as an engine reports its pieces. */
function timed(texts: readonly string[], secondsPerChar = 0.2, pause = 0.3): TimedText[] {
  let t = 0;
  return texts.map((text) => {
    const startSec = t;
    const endSec = startSec + Math.max(0.1, [...text].length * secondsPerChar);
    t = endSec + pause;
    return { text, startSec, endSec };
  });
}

function assertWellFormed(cues: readonly Cue[], durationSec?: number): void {
  let prevEnd = 0;
  for (const c of cues) {
    assert.ok(c.startSec >= prevEnd, `cue at ${c.startSec} starts before the previous ends (${prevEnd})`);
    assert.ok(c.endSec > c.startSec, `cue ${c.startSec} --> ${c.endSec} has time`);
    if (durationSec !== undefined) assert.ok(c.endSec <= durationSec + 1e-9, 'within the audio');
    assert.ok(Number.isInteger(Math.round(c.startSec * 1000)), 'whole milliseconds');
    assert.ok(c.lines.length >= 1 && c.lines.length <= CUE_MAX_LINES, `lines: ${JSON.stringify(c.lines)}`);
    for (const line of c.lines) {
      assert.ok(textWidth(line) <= LINE_WIDTH + 1e-9, `line too wide: ${line}`);
      assert.ok(line.trim() === line && line !== '', `line ${JSON.stringify(line)} is trimmed and not empty`);
    }
    prevEnd = c.endSec;
  }
}

describe('captions', () => {
  test('timestamps: hh:mm:ss.mmm for WebVTT, hh:mm:ss,mmm for SRT', () => {
    assert.equal(formatTimestamp(1.234, '.'), '00:00:01.234');
    assert.equal(formatTimestamp(1.234, ','), '00:00:01,234');
    assert.equal(formatTimestamp(3723.0456, '.'), '01:02:03.046');
    assert.equal(formatTimestamp(0, ','), '00:00:00,000');
    assert.equal(formatTimestamp(59.9996, '.'), '00:01:00.000');
  });

  test('empty or blank input gives no cues, and files with no cues', () => {
    assert.deepEqual(buildCues([]), []);
    assert.deepEqual(buildCues([{ text: '  \n ', startSec: 0, endSec: 1 }]), []);
    assert.equal(toWebVtt([]), 'WEBVTT\n');
    assert.equal(toSrt([]), '');
  });

  test('a short sentence is one cue spanning its piece', () => {
    const cues = buildCues([{ text: 'Hello there.', startSec: 0.1, endSec: 1.25 }]);
    assert.deepEqual(cues, [{ startSec: 0.1, endSec: 1.25, lines: ['Hello there.'] }]);
    assert.equal(toWebVtt(cues), 'WEBVTT\n\n1\n00:00:00.100 --> 00:00:01.250\nHello there.\n');
    assert.equal(toSrt(cues), '1\n00:00:00,100 --> 00:00:01,250\nHello there.\n');
  });

  test('a cue ends at every sentence end; the time is shared by letters', () => {
    const cues = buildCues([{ text: '你好。我是数字人，很高兴见到你！', startSec: 0, endSec: 3.9 }]);
    // 2 + 11 letters over 3.9 s: 0.3 s each
    assert.deepEqual(cues, [
      { startSec: 0, endSec: 0.6, lines: ['你好。'] },
      { startSec: 0.6, endSec: 3.9, lines: ['我是数字人，很高兴见到你！'] },
    ]);
  });

  test('clauses are packed while they fit two lines, as two even lines', () => {
    const text =
      'Good morning, everyone, and thank you for coming to the meeting today, it is good to see you all here';
    const cues = buildCues([{ text, startSec: 0, endSec: 10 }]);
    assertWellFormed(cues, 10);
    assert.equal(words(cueText(cues)), words(text));
    assert.ok(cues.length >= 2, 'more than two lines of text makes more than one cue');
    // two even lines (a break after "everyone," would leave 46 characters for the second)
    assert.deepEqual(cues[0]?.lines, [
      'Good morning, everyone, and thank',
      'you for coming to the meeting today,',
    ]);
  });

  test('a long piece without punctuation is cut into cues that fit, timed by character count', () => {
    const han =
      '这是一个没有任何标点符号的很长很长的句子它一直说下去直到超过了一个字幕可以容纳的长度为止然后还要继续说';
    const cues = buildCues([{ text: han, startSec: 2, endSec: 2 + [...han].length * 0.25 }]);
    assertWellFormed(cues);
    assert.ok(cues.length >= 2);
    assert.equal(cueText(cues).replace(/\s/g, ''), han);
    for (const c of cues) {
      const chars = c.lines.join('').length;
      assert.ok(
        Math.abs(c.endSec - c.startSec - chars * 0.25) < 0.002,
        `${chars} chars in ${c.endSec - c.startSec} s`,
      );
      for (const line of c.lines) assert.ok([...line].length <= 20, line);
    }
    const latin = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    const lc = buildCues([{ text: latin, startSec: 0, endSec: 20 }]);
    assertWellFormed(lc, 20);
    assert.equal(cueText(lc), latin, 'cut at word boundaries: no word is broken');
  });

  test('wrapping: words for Latin, characters for Han, mixed text by width, no line starts with a closing mark', () => {
    assert.deepEqual(wrapText('short line'), ['short line']);
    const latin = wrapText('The quick brown fox jumps over the lazy dog and keeps on running far away');
    assert.equal(latin.length, 2);
    for (const l of latin) assert.ok(l.length <= 42 && !/^\s|\s$/.test(l));
    assert.equal(
      latin.join(' '),
      'The quick brown fox jumps over the lazy dog and keeps on running far away',
    );
    const han = wrapText('一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十');
    assert.deepEqual(
      han.map((l) => [...l].length),
      [15, 15],
    );
    const mixed = wrapText('我们今天用 Node.js 做一个 demo，价格是二十元，大家觉得 OK 吗？');
    assert.equal(mixed.length, 2);
    for (const l of mixed) assert.ok(textWidth(l) <= LINE_WIDTH, l);
    assert.ok(
      mixed.some((l) => l.includes('Node.js')),
      'a Latin word stays whole',
    );
    const marks = wrapText('一二三四五六七八九十一二三四五六七八九十，一二三四五六七八九十。');
    for (const l of marks.slice(1)) assert.doesNotMatch(l, /^[，。]/);
  });

  test('pieces of two languages join with a space, Han pieces without one', () => {
    const cues = buildCues(timed(['我们今天用', 'Node.js', '做一个', 'demo。', '你好', '世界。']));
    assert.deepEqual(
      cues.map((c) => c.lines.join('\n')),
      ['我们今天用 Node.js 做一个 demo。', '你好世界。'],
    );
  });

  test('numbers and abbreviations are not cut at their points and commas', () => {
    const cues = buildCues([
      { text: 'It costs 1,000 dollars at 12:30, version 3.5 of Node.js. Really.', startSec: 0, endSec: 6 },
    ]);
    assert.deepEqual(
      cues.map((c) => c.lines.join(' ')),
      ['It costs 1,000 dollars at 12:30, version 3.5 of Node.js.', 'Really.'],
    );
  });

  test('WebVTT escapes &, < and > (so --> cannot end a cue); SRT writes an arrow as ->', () => {
    assert.equal(escapeVtt('a <b> & c --> d'), 'a &lt;b&gt; &amp; c --&gt; d');
    const cues = buildCues([{ text: 'a <b> & c --> d', startSec: 0, endSec: 1 }]);
    assert.match(toWebVtt(cues), /\na &lt;b&gt; &amp; c --&gt; d\n$/);
    assert.match(toSrt(cues), /\na <b> & c -> d\n$/);
  });

  test('cues never run past the audio, and a piece with no time gets no cue', () => {
    const cues = buildCues(
      [
        { text: 'One.', startSec: 0, endSec: 1 },
        { text: 'Two.', startSec: 1.5, endSec: 1.5 },
        { text: 'Three.', startSec: 2, endSec: 3.2 },
      ],
      { durationSec: 3 },
    );
    assert.deepEqual(cues, [
      { startSec: 0, endSec: 1, lines: ['One.'] },
      { startSec: 2, endSec: 3, lines: ['Three.'] },
    ]);
  });

  test('property: any pieces give ordered, non-overlapping cues of at most two lines, within the audio, saying every word', () => {
    const han = fc.constantFrom(...'我们今天是数字人的一个好天气大家觉得吗你说话'.split(''));
    const latinWord = fc.constantFrom('hello', 'world', 'digital', 'human', 'Node.js', 'OK', 'a', 'speaking');
    const mark = fc.constantFrom('，', '。', '！', '？', ',', '.', '!', ';', '、', '：');
    const zhText = fc
      .array(fc.oneof({ weight: 6, arbitrary: han }, { weight: 1, arbitrary: mark }), {
        minLength: 1,
        maxLength: 120,
      })
      .map((a) => a.join(''));
    const enText = fc
      .array(
        fc.tuple(latinWord, fc.option(mark, { freq: 4 })).map(([w, m]) => w + (m ?? '')),
        { minLength: 1, maxLength: 60 },
      )
      .map((a) => a.join(' '));
    const piece = fc.record({
      text: fc.oneof(zhText, enText, fc.string({ maxLength: 80 })),
      secondsPerChar: fc.double({ min: 0.03, max: 0.5, noNaN: true }),
      pause: fc.constantFrom(0, 0.12, 0.35),
    });
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (pieces) => {
        let t = 0;
        const segments = pieces.map((p) => {
          const s = { text: p.text, startSec: t, endSec: t + Math.max(1, p.text.length) * p.secondsPerChar };
          t = s.endSec + p.pause;
          return s;
        });
        const duration = segments.at(-1)?.endSec ?? 0;
        const cues = buildCues(segments, { durationSec: duration });
        assertWellFormed(cues, duration);
        // every letter and digit is in some cue (at 30 ms or more a character, each part has time)
        const said = segments.map((s) => s.text).join('');
        assert.equal(words(cueText(cues)), words(said));
        const vtt = toWebVtt(cues);
        assert.ok(vtt.startsWith('WEBVTT\n'));
        assert.equal(vtt.split('\n\n').length - 1, cues.length);
        assert.doesNotMatch(
          vtt
            .split('\n')
            .filter((l) => !/^\d\d:/.test(l))
            .join('\n'),
          /-->/,
        );
      }),
      { numRuns: 300 },
    );
  });
});
