// node:fs for the upload storage, with a hook on each fsync that tells the uploads folder's
// own fsync from a file's: tests record the order of calls or make the folder's fail.
import { NODE_FS, type StorageFs } from '../../src/handlers/upload-storage.js';

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
