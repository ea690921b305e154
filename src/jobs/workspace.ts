import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Each queue item gets its own temp directory under <dataDir>/work, removed when the item ends —
 * success, failure, or (for a crashed worker's leftovers) at the next start.
 */
export class Workspaces {
  readonly root: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'work');
  }

  async create(name: string): Promise<string> {
    if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`bad workspace name ${name}`);
    const dir = join(this.root, name);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    return dir;
  }

  async remove(dir: string): Promise<void> {
    await rm(dir, { recursive: true, force: true });
  }

  /** Start-up: removes directories of items that are not running anywhere (`keep` names those that are). */
  async sweep(keep: (name: string) => Promise<boolean>): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.root);
    } catch {
      return 0;
    }
    let removed = 0;
    for (const name of names) {
      if (await keep(name)) continue;
      await rm(join(this.root, name), { recursive: true, force: true });
      removed++;
    }
    return removed;
  }
}

/** Runs `fn` in a fresh workspace and removes it afterwards, whatever happens. */
export async function withWorkspace<T>(
  ws: Workspaces,
  name: string,
  fn: (dir: string) => Promise<T>,
): Promise<T> {
  const dir = await ws.create(name);
  try {
    return await fn(dir);
  } finally {
    await ws.remove(dir);
  }
}
