/**
 * The avatar cache behind the engines' AvatarCache port: rows in the database (AvatarsRepository),
 * files in the blob store under `avatars/<avatar id>/<part>.<nonce>/`. A part is visible only once
 * its files are all stored (the row is written last), so a crash mid-way leaves no half part.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { AvatarCache } from '../engines/ports.ts';
import type { AvatarsRepository } from '../repositories/avatars.repository.ts';
import type { BlobStore } from '../repositories/blobs.ts';
import type { RandomSource } from '../repositories/random.ts';

const SAFE_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

interface StoredPart {
  prefix: string;
  files: string[];
  meta: unknown;
}

function isStoredPart(v: unknown): v is StoredPart {
  if (v === null || typeof v !== 'object') return false;
  const p = v as Partial<StoredPart>;
  return typeof p.prefix === 'string' && Array.isArray(p.files) && 'meta' in p;
}

function checkName(kind: string, name: string): void {
  if (!SAFE_NAME.test(name)) throw new Error(`avatar cache: bad ${kind} name ${JSON.stringify(name)}`);
}

/** sha256 (hex) of a file, streamed. */
export async function fileSha256(file: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20, signal })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

export class AvatarCacheStore {
  constructor(
    private readonly avatars: AvatarsRepository,
    private readonly blobs: BlobStore,
    private readonly random: RandomSource,
  ) {}

  /** The cache of this account's video at this URL with this content (a changed file starts afresh). */
  async open(accountId: string, videoUrl: string, contentHash: string): Promise<AvatarCache> {
    const { avatar, replaced } = await this.avatars.ensure(accountId, videoUrl, contentHash);
    if (replaced !== null) await this.blobs.deletePrefix(`avatars/${replaced}`);
    return this.handle(avatar.id);
  }

  /** Deletes avatars unused since `before` with their files; returns how many. */
  async sweep(before: number, signal?: AbortSignal): Promise<number> {
    let removed = 0;
    for (;;) {
      const batch = await this.avatars.listUnusedSince(before, 100);
      for (const a of batch) {
        if (signal?.aborted) return removed;
        if (await this.avatars.deleteIfUnused(a.id, before)) {
          await this.blobs.deletePrefix(`avatars/${a.id}`);
          removed++;
        }
      }
      if (batch.length < 100) return removed;
    }
  }

  private handle(id: string): AvatarCache {
    const { avatars, blobs, random } = this;
    const stored = async (name: string): Promise<StoredPart | null> => {
      const avatar = await avatars.get(id);
      const part = avatar?.parts[name];
      return isStoredPart(part) ? part : null;
    };
    return {
      id,
      async getPart(name) {
        checkName('part', name);
        const part = await stored(name);
        if (part === null) return null;
        for (const f of part.files) {
          if ((await blobs.stat(`${part.prefix}/${f}`)) === null) {
            // files lost (disk cleaned by hand, bucket lifecycle): forget the part, it is made again
            await avatars.dropPart(id, name);
            await blobs.deletePrefix(part.prefix);
            return null;
          }
        }
        return part.meta;
      },
      async fetchFile(name, file, dest) {
        checkName('part', name);
        checkName('file', file);
        const part = await stored(name);
        if (part === null || !part.files.includes(file)) return false;
        const key = `${part.prefix}/${file}`;
        if ((await blobs.stat(key)) === null) return false;
        await blobs.download(key, dest);
        return true;
      },
      async putPart(name, meta, files) {
        checkName('part', name);
        const names = Object.keys(files);
        for (const f of names) checkName('file', f);
        const prefix = `avatars/${id}/${name}.${random.bytes(6).toString('hex')}`;
        try {
          for (const f of names) await blobs.put(`${prefix}/${f}`, files[f] as string);
          const res = await avatars.putPart(id, name, { prefix, files: names, meta } satisfies StoredPart);
          if (res === null || !res.stored) await blobs.deletePrefix(prefix);
          if (res === null) return meta;
          return isStoredPart(res.value) ? res.value.meta : meta;
        } catch (err) {
          await blobs.deletePrefix(prefix).catch(() => {});
          throw err;
        }
      },
    };
  }
}
