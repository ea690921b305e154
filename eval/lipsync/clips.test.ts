import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { clipFile, EVAL_CLIPS, EVAL_DATA_DIR, speakerOf } from './clips.ts';

/** `git hash-object FILE`: SHA-1 of "blob <size>\0" followed by the bytes. */
function gitBlobId(bytes: Buffer): string {
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

/** The MANIFEST's table rows: file name -> git blob column. */
function manifestBlobs(manifest: string): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of manifest.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    // | file | source | git blob | ...: cells[0] is the empty text before the first bar.
    const file = cells[1];
    const blob = cells[3];
    if (file && blob && /^[0-9a-f]{40}$/.test(blob)) rows.set(file, blob);
  }
  return rows;
}

describe('eval clip list and its committed media', () => {
  const manifest = readFileSync(join(EVAL_DATA_DIR, 'MANIFEST.md'), 'utf8');
  const blobs = manifestBlobs(manifest);
  const committed = EVAL_CLIPS.filter((c) => c.data);

  it('git blob ids match the known `git hash-object` output', () => {
    assert.equal(gitBlobId(Buffer.from('')), 'e69de29bb2d1d6434b8b29ae775ad8c2e48c5391');
    assert.equal(gitBlobId(Buffer.from('hello\n')), 'ce013625030ba8dba906f756967f9e9ca394464a');
  });

  it('lists each file once', () => {
    const names = EVAL_CLIPS.map((c) => c.file);
    assert.equal(new Set(names).size, names.length);
  });

  it('every committed clip has a MANIFEST row whose git blob is the file, byte for byte', () => {
    assert.ok(committed.length > 0);
    for (const c of committed) {
      const want = blobs.get(c.file);
      assert.ok(want, `${c.file}: no MANIFEST row`);
      assert.equal(gitBlobId(readFileSync(clipFile(c.file, '/nonexistent'))), want, c.file);
    }
  });

  it('every media file and MANIFEST row is in the clip list (nothing committed unused)', () => {
    const listed = new Set(committed.map((c) => c.file));
    const files = readdirSync(EVAL_DATA_DIR).filter((f) => f !== 'MANIFEST.md');
    assert.deepEqual([...files].sort(), [...listed].sort());
    assert.deepEqual([...blobs.keys()].sort(), [...listed].sort());
  });

  it('two recordings of one person share a speaker (leave-one-speaker-out drops both)', () => {
    assert.equal(speakerOf('eval-en-man-1-long.mov'), speakerOf('eval-en-man-1.mp4'));
  });
});
