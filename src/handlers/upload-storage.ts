// Stores an upload atomically and durably, in two steps that say how far they got:
//   writeAndLink: temporary file (exclusive create) -> write -> fsync -> hard link to a fresh
//                 name (fails instead of overwriting). After it the document exists.
//   complete:     remove the temporary -> fsync the folder, so the new name survives a power cut;
//                 completeAll does it once for a group of documents linked one after the other.
// The file-system calls come in as a small interface, so a test can make any one of them fail.
import { join } from 'node:path';
import { fs as nodeFs, randomHex } from './builtins.js';
import type { DescriptorWatch } from './descriptors.js';

/** The synchronous file-system calls storing an upload makes (node:fs in production). */
export interface StorageFs {
  openSync(path: string, flags: string, mode?: number): number;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  fsyncSync(fd: number): void;
  closeSync(fd: number): void;
  linkSync(existingPath: string, newPath: string): void;
  renameSync(oldPath: string, newPath: string): void;
  existsSync(path: string): boolean;
  rmSync(path: string, options: { readonly force: boolean }): void;
  realpathSync: { native(path: string): string };
}

export const NODE_FS: StorageFs = nodeFs;

/**
 * `fs` reporting each descriptor it opens and closes to `watch` (see descriptors.ts): without
 * it, a worker stopped in the fsync of a temporary, already unlinked, would leave its space and
 * descriptor held for good.
 */
export function watched(fs: StorageFs, watch: DescriptorWatch): StorageFs {
  // Each call named, not `...fs`: spreading node:fs would run its lazy getters and load
  // fs/promises and the file streams in every worker that stores an upload (builtins.ts).
  return {
    writeSync: (fd, buffer, offset, length) => fs.writeSync(fd, buffer, offset, length),
    fsyncSync: (fd) => fs.fsyncSync(fd),
    linkSync: (existingPath, newPath) => fs.linkSync(existingPath, newPath),
    renameSync: (oldPath, newPath) => fs.renameSync(oldPath, newPath),
    existsSync: (path) => fs.existsSync(path),
    rmSync: (path, options) => fs.rmSync(path, options),
    realpathSync: fs.realpathSync,
    openSync(path, flags, mode) {
      const fd = fs.openSync(path, flags, mode);
      watch.opened(fd);
      return fd;
    },
    closeSync(fd) {
      // Forgotten before closed: once closed, the number may be reused for another file.
      watch.closing(fd);
      fs.closeSync(fd);
    },
  };
}

const MAX_NAME_ATTEMPTS = 8;
const LINK_UNSUPPORTED = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);
/** Some file systems cannot fsync a folder at all; PostgreSQL treats EINVAL there the same way. */
const FOLDER_SYNC_UNSUPPORTED = new Set(['EINVAL']);

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** `upload_YYYYMMDD_HHMMSS_<16 hex>.json` in UTC. */
export function uploadName(now: Date, random: string): string {
  const date = `${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}`;
  const time = `${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}`;
  return `upload_${date}_${time}_${random}.json`;
}

/** A complete, fsynced document under its final name; its temporary name may remain. */
export interface Linked {
  readonly name: string;
  readonly tempPath: string;
}

/** How the steps after the link went. The document exists in both cases. */
export type Completion =
  /** Data and name are on disk as far as the file system can tell; notes say what was odd. */
  | { readonly kind: 'durable'; readonly notes: readonly string[] }
  /** The folder fsync failed: the name may not survive a power cut. */
  | { readonly kind: 'unconfirmed'; readonly code: string; readonly error: string };

const codeOf = (error: unknown): string => (error as NodeJS.ErrnoException).code ?? 'unknown';

function writeAll(fs: StorageFs, fd: number, bytes: Uint8Array): void {
  let at = 0;
  while (at < bytes.length) at += fs.writeSync(fd, bytes, at, bytes.length - at);
}

/** Removes a temporary name; returns the error code when that failed. */
function removeTemporary(fs: StorageFs, path: string): string | null {
  try {
    fs.rmSync(path, { force: true });
    return null;
  } catch (error) {
    return codeOf(error);
  }
}

/**
 * Writes the bytes to the temporary file `temporary` (a name the main thread chose, see
 * upload-temporaries.ts), fsyncs it and links it under a fresh name. Throws when that fails,
 * leaving nothing behind; once it returns, the document exists.
 */
export function writeAndLink(body: Uint8Array, temporary: string, folder: string, fs: StorageFs): Linked {
  const tempPath = join(folder, temporary);
  const fd = fs.openSync(tempPath, 'wx', 0o644);
  try {
    try {
      writeAll(fs, fd, body);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    return { name: publish(fs, tempPath, folder), tempPath };
  } catch (error) {
    // Hidden, never served, and removed at the next start if this fails too.
    removeTemporary(fs, tempPath);
    throw error;
  }
}

/** Gives the complete temporary file its final name, never replacing an existing file. */
function publish(fs: StorageFs, tempPath: string, folder: string): string {
  for (let attempt = 1; ; attempt++) {
    const name = uploadName(new Date(), randomHex(8));
    const finalPath = join(folder, name);
    try {
      fs.linkSync(tempPath, finalPath); // fails with EEXIST instead of overwriting
      return name;
    } catch (error) {
      const code = codeOf(error);
      if (attempt === MAX_NAME_ATTEMPTS) throw error;
      if (code === 'EEXIST') continue;
      if (!LINK_UNSUPPORTED.has(code)) throw error;
      // File systems without hard links (some network and desktop bind mounts): rename is
      // still atomic; the 64-bit random part makes a clash on the checked name negligible.
      if (fs.existsSync(finalPath)) continue;
      fs.renameSync(tempPath, finalPath);
      return name;
    }
  }
}

/** fsync(2) of a folder, which makes the names linked in it durable. */
export function syncFolder(fs: StorageFs, folder: string): void {
  const fd = fs.openSync(folder, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    try {
      fs.closeSync(fd);
    } catch {
      // A read-only descriptor holds nothing to write back: the fsync's outcome stands.
    }
  }
}

/**
 * Removes the temporary names and fsyncs the folder once for all the documents: one journal
 * commit makes every new name durable (group commit). Returns each document's completion, in
 * order. Never throws: the documents exist whatever happens here. A failed folder fsync is not
 * retried (after a failed fsync Linux may already have dropped what it could not write, so a
 * second one succeeding proves nothing): it leaves every document of the group unconfirmed.
 */
export function completeAll(group: readonly Linked[], folder: string, fs: StorageFs): Completion[] {
  const removals = group.map((linked) => removeTemporary(fs, linked.tempPath));
  const folderNotes: string[] = [];
  try {
    syncFolder(fs, folder);
  } catch (error) {
    const code = codeOf(error);
    if (!FOLDER_SYNC_UNSUPPORTED.has(code)) return group.map(() => ({ kind: 'unconfirmed', code, error: String((error as Error).stack ?? error) }));
    folderNotes.push(`this file system cannot fsync a folder (${code})`);
  }
  return group.map((linked, index) => {
    const removal = removals[index];
    const notes = removal === null ? folderNotes : [`temporary ${linked.tempPath} not removed (${removal}); removed at the next start`, ...folderNotes];
    return { kind: 'durable', notes };
  });
}
