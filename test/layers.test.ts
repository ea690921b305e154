import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ESLint } from 'eslint';

/**
 * The layer rules in eslint.config.js hold: a wrong import, written as a scratch file in each layer,
 * fails the lint (type-only imports too), and an allowed one passes.
 */
const eslint = new ESLint({ cwd: new URL('..', import.meta.url).pathname });

async function restricted(filePath: string, code: string): Promise<boolean> {
  const [res] = await eslint.lintText(code, { filePath });
  return (res?.messages ?? []).some((m) => m.ruleId === 'no-restricted-imports');
}

describe('layer rules', () => {
  const cases: Array<[string, string, boolean]> = [
    ['src/domain/scratch.ts', "import type { Metrics } from '../metrics.ts';", true],
    ['src/domain/scratch.ts', "import { AppError } from './errors.ts';", false],
    ['src/services/scratch.ts', "import type { AppDeps } from '../http/app.ts';", true],
    ['src/services/scratch.ts', "import { Worker } from '../jobs/worker.ts';", true],
    [
      'src/services/scratch.ts',
      "import type { JobsRepository } from '../repositories/jobs.repository.ts';",
      false,
    ],
    ['src/repositories/scratch.ts', "import type { LipSyncEngine } from '../engines/ports.ts';", true],
    [
      'src/repositories/db/scratch.ts',
      "import { WorksService } from '../../services/works.service.ts';",
      true,
    ],
    ['src/http/scratch.ts', "import type { BlobStore } from '../repositories/blobs.ts';", true],
    ['src/http/routes/scratch.ts', "import type { Worker } from '../../jobs/worker.ts';", true],
    ['src/http/scratch.ts', "import type { SpeechEngine } from '../engines/ports.ts';", true],
    ['src/engines/lipsync/scratch.ts', "import { jobView } from '../../services/views.ts';", true],
    ['src/engines/voice/scratch.ts', "import type { MediaTool } from '../../repositories/media.ts';", false],
    ['src/jobs/handlers/scratch.ts', "import { buildApp } from '../../http/app.ts';", true],
    ['src/jobs/handlers/scratch.ts', "import { jobCallback } from '../../services/views.ts';", false],
  ];
  for (const [file, code, refused] of cases) {
    test(`${file}: ${code} ${refused ? 'fails' : 'passes'}`, async () => {
      assert.equal(await restricted(file, `${code}\nexport {};\n`), refused);
    });
  }
});
