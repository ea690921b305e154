import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  endsSentence,
  enCardinal,
  isSpeakable,
  normalizeText,
  splitByScript,
  splitIntoPieces,
  zhCardinal,
} from './text.ts';

describe('splitByScript', () => {
  const cases: [string, [string, string][]][] = [
    ['你好，世界。', [['zh', '你好，世界。']]],
    ['Hello world.', [['en', 'Hello world.']]],
    [
      '我们用iPhone拍的',
      [
        ['zh', '我们用'],
        ['en', 'iPhone'],
        ['zh', '拍的'],
      ],
    ],
    ['本节目由26年专注', [['zh', '本节目由26年专注']]],
    [
      '他说：Hello world。好的',
      [
        ['zh', '他说：'],
        ['en', 'Hello world。'],
        ['zh', '好的'],
      ],
    ],
    [
      'iPhone 15个',
      [
        ['en', 'iPhone'],
        ['zh', '15个'],
      ],
    ],
    [
      'version 2 发布了',
      [
        ['en', 'version 2'],
        ['zh', '发布了'],
      ],
    ],
    [
      '2026 OpenAI 大会',
      [
        ['en', '2026 OpenAI'],
        ['zh', '大会'],
      ],
    ],
    ['42', [['zh', '42']]],
    ['Ｈｅｌｌｏ １２３', [['en', 'Hello 123']]],
    ['   ', []],
    ['café déjà vu', [['en', 'café déjà vu']]],
  ];
  for (const [input, expected] of cases) {
    it(JSON.stringify(input), () => {
      assert.deepEqual(
        splitByScript(input),
        expected.map(([lang, text]) => ({ lang, text })),
      );
    });
  }
});

describe('zhCardinal', () => {
  const cases: [string, string][] = [
    ['0', '零'],
    ['2', '二'],
    ['10', '十'],
    ['12', '十二'],
    ['20', '二十'],
    ['26', '二十六'],
    ['100', '一百'],
    ['110', '一百一十'],
    ['200', '两百'],
    ['1001', '一千零一'],
    ['2026', '两千零二十六'],
    ['10000', '一万'],
    ['20000', '两万'],
    ['105000', '十万五千'],
    ['100500', '十万零五百'],
    ['10001000', '一千万一千'],
    ['10000100', '一千万零一百'],
    ['100000001', '一亿零一'],
    ['220000', '二十二万'],
  ];
  for (const [input, expected] of cases) {
    it(`${input} -> ${expected}`, () => assert.equal(zhCardinal(input), expected));
  }
});

describe('enCardinal', () => {
  const cases: [string, string][] = [
    ['0', 'zero'],
    ['7', 'seven'],
    ['13', 'thirteen'],
    ['42', 'forty-two'],
    ['100', 'one hundred'],
    ['1200', 'one thousand two hundred'],
    ['2026', 'two thousand twenty-six'],
    ['1000001', 'one million one'],
  ];
  for (const [input, expected] of cases) {
    it(`${input} -> ${expected}`, () => assert.equal(enCardinal(input), expected));
  }
});

describe('normalizeText', () => {
  const zh: [string, string][] = [
    ['2026年3月5日', '二零二六年三月五日'],
    ['共2026个', '共两千零二十六个'],
    ['本节目由26年专注', '本节目由二十六年专注'],
    ['3.5', '三点五'],
    ['增长50%', '增长百分之五十'],
    ['增长12.5%', '增长百分之十二点五'],
    ['¥20', '二十元'],
    ['￥20', '二十元'],
    ['$5', '五美元'],
    ['€1.5', '一点五欧元'],
    ['1,000人', '一千人'],
    ['温度-3度', '温度-三度'],
    ['温度 -3度', '温度 负三度'],
    ['A&B', 'A和B'],
    ['1+1=2', '一加一等于二'],
    ['邮箱a@b', '邮箱a艾特b'],
    ['编号007', '编号零零七'],
    ['电话13812345678', '电话一三八一二三四五六七八'],
    ['２０２６年', '二零二六年'],
  ];
  for (const [input, expected] of zh) {
    it(`zh ${input} -> ${expected}`, () => assert.equal(normalizeText(input, 'zh'), expected));
  }
  const en: [string, string][] = [
    ['42', 'forty-two'],
    ['I have 42 apples.', 'I have forty-two apples.'],
    ['3.5', 'three point five'],
    ['50%', 'fifty percent'],
    ['$5', 'five dollars'],
    ['$1', 'one dollar'],
    ['$5.50', 'five dollars and fifty cents'],
    ['¥20', 'twenty yuan'],
    ['€3', 'three euros'],
    ['1,000,000 people', 'one million people'],
    ['Tom & Jerry', 'Tom and Jerry'],
    ['1+1=2', 'one plus one equals two'],
    ['me@home', 'me at home'],
    ['the 1st and 22nd and 3rd and 12th', 'the first and twenty-second and third and twelfth'],
    ['the 20th', 'the twentieth'],
    ['it is -5 outside', 'it is minus five outside'],
    ['Hello，world。', 'Hello, world.'],
  ];
  for (const [input, expected] of en) {
    it(`en ${input} -> ${expected}`, () => assert.equal(normalizeText(input, 'en'), expected));
  }
});

describe('splitIntoPieces', () => {
  it('keeps a short text whole', () => {
    assert.deepEqual(splitIntoPieces('你好。世界。', 300), ['你好。世界。']);
  });

  it('cuts at sentence ends and packs sentences up to the limit', () => {
    const sentence = '这是一个测试句子。'; // 9 chars
    const pieces = splitIntoPieces(sentence.repeat(10), 30);
    assert.equal(pieces.join(''), sentence.repeat(10));
    for (const p of pieces) {
      assert.ok(p.length <= 30, p);
      assert.ok(p.endsWith('。'), p);
    }
    assert.equal(pieces.length, 4); // 3 + 3 + 3 + 1 sentences
  });

  it('cuts English at ". " but not inside words', () => {
    assert.deepEqual(splitIntoPieces('One two. Three four. Five.', 12), ['One two.', 'Three four.', 'Five.']);
  });

  it('falls back to clause breaks, then to spaces, then anywhere', () => {
    const clauses = splitIntoPieces('一二三四五，六七八九十，一二三四五。', 8);
    assert.deepEqual(clauses, ['一二三四五，', '六七八九十，', '一二三四五。']);
    const words = splitIntoPieces('aaaa bbbb cccc dddd', 10);
    assert.deepEqual(words, ['aaaa bbbb', 'cccc dddd']);
    const han = splitIntoPieces('一'.repeat(25), 10);
    assert.deepEqual(
      han.map((p) => p.length),
      [10, 10, 5],
    );
  });

  it('never exceeds the limit on long mixed text', () => {
    const text = '今天天气很好，我们去公园散步吧！'.repeat(400);
    const pieces = splitIntoPieces(text, 300);
    assert.equal(pieces.join(''), text);
    assert.ok(pieces.every((p) => p.length <= 300));
  });
});

describe('isSpeakable / endsSentence', () => {
  it('tells speakable text', () => {
    assert.equal(isSpeakable('，。!?'), false);
    assert.equal(isSpeakable(' - '), false);
    assert.equal(isSpeakable('好'), true);
    assert.equal(isSpeakable('a'), true);
  });
  it('tells sentence ends', () => {
    assert.equal(endsSentence('你好。'), true);
    assert.equal(endsSentence('Hello.'), true);
    assert.equal(endsSentence('他说：“好！”'), true);
    assert.equal(endsSentence('你好，'), false);
  });
});
