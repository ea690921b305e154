import assert from 'node:assert/strict';
import { test } from 'node:test';
import { estimateSpeechSeconds, pointsForSeconds, settleFailure, settleSuccess } from './billing.ts';

test('points are output seconds rounded up', () => {
  assert.equal(pointsForSeconds(0), 0);
  assert.equal(pointsForSeconds(0.2), 1);
  assert.equal(pointsForSeconds(10), 10);
  assert.equal(pointsForSeconds(10.0000001), 10);
  assert.equal(pointsForSeconds(10.01), 11);
  assert.equal(pointsForSeconds(Number.NaN), 0);
});

test('speech estimate counts Han characters and letters at their rates', () => {
  assert.equal(estimateSpeechSeconds('你好世界'), 1);
  assert.equal(estimateSpeechSeconds('abcdefghijklmn'), 1);
  assert.equal(estimateSpeechSeconds('你好，世界！'), 1);
  assert.equal(estimateSpeechSeconds('你好世界', 2), 0.5);
  assert.equal(estimateSpeechSeconds('   '), 0);
});

test('success keeps the fee and returns the unused reservation', () => {
  assert.deepEqual(settleSuccess(10, 7.2, 0), { fee: 8, amount: 2 });
  assert.deepEqual(settleSuccess(10, 10, 0), { fee: 10, amount: 0 });
});

test('a fee over the reservation takes the extra from the balance, never below zero', () => {
  assert.deepEqual(settleSuccess(5, 8, 100), { fee: 8, amount: -3 });
  assert.deepEqual(settleSuccess(5, 8, 1), { fee: 6, amount: -1 });
  assert.deepEqual(settleSuccess(5, 8, 0), { fee: 5, amount: 0 });
});

test('failure returns everything', () => {
  assert.deepEqual(settleFailure(12), { fee: 0, amount: 12 });
});
