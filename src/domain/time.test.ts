import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatBillTime } from './time.ts';

test('bill time is wall time in the configured zone', () => {
  const ms = Date.UTC(2026, 0, 31, 16, 5, 9);
  assert.equal(formatBillTime(ms, 'Asia/Shanghai'), '2026-02-01 00:05:09');
  assert.equal(formatBillTime(ms, 'UTC'), '2026-01-31 16:05:09');
});
