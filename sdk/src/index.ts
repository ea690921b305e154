/**
 * @dhs/sdk: a typed client of the dhs server (the seed v5 digital-human API) for Node.js 18+ and
 * browsers, with no dependencies beyond `fetch`.
 *
 *   const dhs = new DhsClient({ baseUrl: 'http://localhost:8080', accessKey, secretKey });
 *   const video = await dhs.upload('face.mp4');
 *   const { jobId } = await dhs.works.create({ videoUrl: video.url, text: '你好' });
 *   const done = await dhs.waitFor(jobId, { onProgress: (p) => console.log(p.progress) });
 *   console.log(done.videoUrl);
 */
export {
  API_PREFIX,
  DhsClient,
  contentTypeOf,
  kindOfJobId,
  type CallOptions,
  type DhsClientOptions,
  type UploadOptions,
  type VoiceApi,
  type WaitOptions,
  type WaitProgress,
  type WaitTarget,
} from './client.ts';
export { DhsError, ErrorCode, isDhsError, type DhsErrorDetails } from './errors.ts';
export { md5, signToken } from './md5.ts';
export {
  JobStatus,
  type Balance,
  type Bill,
  type BillPage,
  type BillQuery,
  type JobCreated,
  type JobStatusValue,
  type ListPage,
  type LiteSpeechCreateRequest,
  type SpeechCreateRequest,
  type SpeechStatus,
  type Tier,
  type TokenData,
  type UploadResult,
  type VoiceTrainRequest,
  type VoiceTrainStatus,
  type VoiceListItem,
  type SpeechListItem,
  type VoiceTrained,
  type WebhookPayload,
  type WorkCallback,
  type WorkCreateRequest,
  type WorkListItem,
  type WorkStatus,
} from './types.ts';
export {
  WebhookVerificationError,
  verifyWebhook,
  type HeadersLike,
  type VerifyWebhookOptions,
} from './webhook.ts';
