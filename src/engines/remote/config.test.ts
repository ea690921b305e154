import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadConfig } from '../../config.ts';
import { EngineConfigError, parseRemoteEngines } from './config.ts';

const problems = (env: Record<string, string>, lipSync = 'sample') => {
  try {
    parseRemoteEngines(env, lipSync, '/data');
    return [];
  } catch (err) {
    assert.ok(err instanceof EngineConfigError);
    return err.problems;
  }
};

describe('remote engine configuration', () => {
  test('unset: the local engines, nothing remote', () => {
    assert.deepEqual(parseRemoteEngines({}, 'sample', '/data'), {
      heygem: undefined,
      speech: 'local',
      speechPro: 'local',
      cosyvoice: undefined,
      gptSovits: undefined,
      fishSpeech: undefined,
      fallback: 'off',
    });
    assert.equal(loadConfig({}).engines.speech, 'local');
  });

  test('DHS_ENGINE_FALLBACK: off (unset or blank) or local; anything else stops the start', () => {
    const fallback = (v: string | undefined) =>
      parseRemoteEngines(v === undefined ? {} : { DHS_ENGINE_FALLBACK: v }, 'sample', '/data').fallback;
    assert.equal(fallback(undefined), 'off');
    assert.equal(fallback(' '), 'off');
    assert.equal(fallback('off'), 'off');
    assert.equal(fallback('local'), 'local');
    assert.equal(fallback(' Local '), 'local');
    assert.deepEqual(problems({ DHS_ENGINE_FALLBACK: 'remote' }), [
      'DHS_ENGINE_FALLBACK: must be one of off, local, got "remote"',
    ]);
    assert.throws(
      () => loadConfig({ DHS_ENGINE_FALLBACK: 'yes' }),
      /invalid configuration:\n {2}DHS_ENGINE_FALLBACK: must be one of off, local, got "yes"/,
    );
    assert.equal(loadConfig({ DHS_ENGINE_FALLBACK: 'local' }).engines.fallback, 'local');
  });

  test('HeyGem needs its URL and shared directory; defaults for the rest', () => {
    assert.deepEqual(problems({}, 'heygem'), [
      'DHS_HEYGEM_URL: required when DHS_LIPSYNC_ENGINE=heygem',
      "DHS_HEYGEM_DATA_DIR: required when DHS_LIPSYNC_ENGINE=heygem (the host directory mounted as the container's /code/data)",
    ]);
    const c = parseRemoteEngines(
      { DHS_HEYGEM_URL: 'http://gpu:8383/', DHS_HEYGEM_DATA_DIR: '/srv/hg' },
      'heygem',
      '/data',
    );
    assert.deepEqual(c.heygem, {
      url: 'http://gpu:8383',
      dataDir: '/srv/hg',
      containerDataDir: '/code/data',
      requestTimeoutMs: 30_000,
      pollMs: 2000,
      stallMs: 600_000,
    });
  });

  test('PRO follows DHS_SPEECH_ENGINE unless DHS_SPEECH_ENGINE_PRO says otherwise', () => {
    const both = parseRemoteEngines(
      { DHS_SPEECH_ENGINE: 'cosyvoice', DHS_COSYVOICE_URL: 'http://g:50000' },
      'sample',
      '/data',
    );
    assert.equal(both.speechPro, 'cosyvoice');
    assert.deepEqual(both.cosyvoice, {
      url: 'http://g:50000',
      sampleRate: 24_000,
      version: 2,
      timeoutMs: 120_000,
    });
    const split = parseRemoteEngines(
      { DHS_SPEECH_ENGINE_PRO: 'gpt-sovits', DHS_GPT_SOVITS_URL: 'http://g:9880' },
      'sample',
      '/data',
    );
    assert.equal(split.speech, 'local');
    assert.deepEqual(split.gptSovits, {
      url: 'http://g:9880',
      refDir: '/data/refs',
      refDirRemote: '/data/refs',
      timeoutMs: 120_000,
    });
    assert.deepEqual(problems({ DHS_SPEECH_ENGINE_PRO: 'fish-speech' }), [
      'DHS_FISH_SPEECH_URL: required when DHS_SPEECH_ENGINE_PRO=fish-speech',
    ]);
  });

  test('bad values are refused naming the variable', () => {
    assert.match(
      problems({ DHS_SPEECH_ENGINE: 'tacotron' })[0] ?? '',
      /^DHS_SPEECH_ENGINE: must be one of local, cosyvoice, gpt-sovits, fish-speech/,
    );
    assert.match(
      problems({ DHS_SPEECH_ENGINE: 'cosyvoice', DHS_COSYVOICE_URL: 'ftp://x' })[0] ?? '',
      /^DHS_COSYVOICE_URL: must be an http\(s\) URL/,
    );
    assert.match(
      problems({ DHS_COSYVOICE_SAMPLE_RATE: '44.1' })[0] ?? '',
      /^DHS_COSYVOICE_SAMPLE_RATE: must be an integer/,
    );
    assert.match(
      problems({
        DHS_SPEECH_ENGINE: 'gpt-sovits',
        DHS_GPT_SOVITS_URL: 'http://g',
        DHS_GPT_SOVITS_REF_DIR_REMOTE: 'refs',
      })[0] ?? '',
      /^DHS_GPT_SOVITS_REF_DIR_REMOTE: must be an absolute path/,
    );
    assert.throws(
      () => loadConfig({ DHS_LIPSYNC_ENGINE: 'heygem' }),
      /invalid configuration:\n {2}DHS_HEYGEM_URL: required/,
    );
  });
});
