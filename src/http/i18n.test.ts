import assert from 'node:assert/strict';
import { test } from 'node:test';
import { preferredLang } from './i18n.ts';

test('Chinese unless English is preferred', () => {
  assert.equal(preferredLang(undefined), 'zh');
  assert.equal(preferredLang('zh-CN,zh;q=0.9,en;q=0.8'), 'zh');
  assert.equal(preferredLang('en-US,en;q=0.9'), 'en');
  assert.equal(preferredLang('zh;q=0.5, en;q=0.8'), 'en');
  assert.equal(preferredLang('fr'), 'zh');
  assert.equal(preferredLang('en;q=0'), 'zh');
});
