// node:fs for the upload storage, with a hook on each fsync that tells the uploads folder's
// own fsync from a file's: tests record the order of calls or make the folder's fail. And one
// upload stored on its own, through such an fs.
import type { JobResult, NamedUploadJob } from '../../src/core/job.js';
import { randomHex } from '../../src/handlers/builtins.js';
import { finishUploads, isLinked, linkUpload, type UploadContext } from '../../src/handlers/upload.js';
import { NODE_FS, type StorageFs } from '../../src/handlers/upload-storage.js';
import { TEMP_RANDOM_BYTES, temporaryName, thisProcess } from '../../src/handlers/upload-temporaries.js';

/** An upload job with a fresh temporary name, as the main thread hands it to a worker (upload-leftovers.ts). */
export function namedUpload(body: Uint8Array): NamedUploadJob {
  return { kind: 'upload', body, temporary: temporaryName(thisProcess(), randomHex(TEMP_RANDOM_BYTES)) };
}

/** One upload linked and then finished as a batch of its own, as a worker does for a batch of one. */
export function storeUpload(job: NamedUploadJob, context: UploadContext, fs: StorageFs, onLinked: (name: string) => void = () => undefined): JobResult {
  const outcome = linkUpload(job, context, fs, onLinked);
  return isLinked(outcome) ? finishUploads([outcome], context, fs)[0]! : outcome;
}

/** `onFsync(isFolder)` runs before each fsync and may throw to make it fail. */
export function watchingFsync(folder: string, onFsync: (isFolder: boolean) => void, overrides: Partial<StorageFs> = {}): StorageFs {
  const folderFds = new Set<number>();
  return {
    ...NODE_FS,
    openSync: (path, flags, mode) => {
      const fd = NODE_FS.openSync(path, flags, mode);
      if (path === folder) folderFds.add(fd);
      return fd;
    },
    fsyncSync: (fd) => {
      onFsync(folderFds.has(fd));
      NODE_FS.fsyncSync(fd);
    },
    ...overrides,
  };
}
