import type { FacePresence } from '../../engines/face/face-check.ts';
import type { LipSyncEngine, SpeechEngine, VoiceTrainer } from '../../engines/ports.ts';
import type { Metrics } from '../../metrics.ts';
import type { AccountsRepository } from '../../repositories/accounts.repository.ts';
import type { BlobStore, ResultLinks } from '../../repositories/blobs.ts';
import type { CallbacksRepository } from '../../repositories/callbacks.repository.ts';
import type { Clock } from '../../repositories/clock.ts';
import type { Fetcher } from '../../repositories/fetcher.ts';
import type { JobsRepository } from '../../repositories/jobs.repository.ts';
import type { MediaTool } from '../../repositories/media.ts';
import type { AvatarCacheStore } from '../../services/avatar-cache.ts';
import type { UploadsService } from '../../services/uploads.service.ts';
import type { VoicesRepository } from '../../repositories/voices.repository.ts';
import type { Workspaces } from '../workspace.ts';

/** What the job handlers work with: repositories and engines, wired in main.ts. */
export interface HandlerDeps {
  accounts: AccountsRepository;
  jobs: JobsRepository;
  voices: VoicesRepository;
  callbacks: CallbacksRepository;
  blobs: BlobStore;
  /** Result URLs in callbacks: presigned ones are made again at every delivery. */
  resultLinks: ResultLinks;
  fetcher: Fetcher;
  /** Customers' uploads: inputs read from the store instead of fetched, and their expiry. */
  uploads: UploadsService;
  media: MediaTool;
  face: FacePresence;
  lipSync: LipSyncEngine;
  avatars: AvatarCacheStore;
  speech: SpeechEngine;
  trainer: VoiceTrainer;
  workspaces: Workspaces;
  metrics: Metrics;
  clock: Clock;
  callbackTimeoutMs: number;
}
