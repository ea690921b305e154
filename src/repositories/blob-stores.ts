import {
  LocalDiskBlobStore,
  publicResultLinks,
  type BlobLocation,
  type BlobStore,
  type ResultLinks,
} from './blobs.ts';
import { presignedResultLinks, S3BlobStore } from './s3-blobs.ts';

/** The blob store DHS_BLOB_URL names: a folder on this machine, or an S3 bucket shared by every host. */
export function openBlobStore(location: BlobLocation, o: { dataDir: string; publicUrl: string }): BlobStore {
  if (location.kind === 'file') return new LocalDiskBlobStore(o.dataDir, o.publicUrl, location.root);
  return new S3BlobStore({
    bucket: location.bucket,
    prefix: location.prefix,
    publicBaseUrl: o.publicUrl,
    // endpoint, keys and the rest from the SDK's standard environment (AWS_*)
    client: {
      forcePathStyle: location.forcePathStyle,
      ...(location.region === undefined ? {} : { region: location.region }),
    },
  });
}

/** DHS_RESULT_URLS: the server's own permanent `/files/...` URLs, or presigned GETs of the bucket. */
export function resultLinksFor(
  blobs: BlobStore,
  resultUrls: { mode: 'public' | 'presigned'; ttlSec: number },
): ResultLinks {
  if (resultUrls.mode === 'public') return publicResultLinks(blobs);
  if (!(blobs instanceof S3BlobStore)) {
    throw new Error('DHS_RESULT_URLS=presigned needs an object store (DHS_BLOB_URL=s3://bucket/prefix)');
  }
  return presignedResultLinks(blobs, resultUrls.ttlSec);
}
