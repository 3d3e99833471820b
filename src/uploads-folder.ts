// The uploads folder at start: created (and made durable) if missing, and checked writable.
// Temporaries a crash left behind are removed once the server is ready (abandoned-temporaries.ts):
// how long that takes grows with the uploads stored.
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError } from './config.js';
import { codeOf } from './error-code.js';
import { NODE_FS, syncFolder } from './handlers/upload-storage.js';

export function prepareUploads(uploadsDir: string, log: Logger): void {
  let firstCreated: string | undefined;
  try {
    firstCreated = mkdirSync(uploadsDir, { recursive: true });
    // Found now rather than as a 500 on every upload (a volume mounted for another user).
    accessSync(uploadsDir, constants.W_OK | constants.X_OK);
  } catch (error) {
    const code = codeOf(error);
    const detail = code === 'EACCES' || code === 'EPERM' ? `: ${permissionFacts(uploadsDir)}` : '';
    throw new ConfigError(`invalid configuration: UPLOADS_DIR: cannot create or write to "${uploadsDir}" (${code}${detail})`);
  }
  if (firstCreated !== undefined) syncCreatedFolders(firstCreated, uploadsDir, log);
}

/**
 * What a permission error at start needs to be fixed without a shell in the container: who the
 * process is and whom the folder belongs to. A container run with another user (OpenShift's
 * arbitrary uid, `docker run --user`) meets an image folder made for `node` here. Where the
 * folder is missing, the nearest folder above it that exists is the one it could not be made in.
 */
export function permissionFacts(uploadsDir: string): string {
  const groups = (process.getgroups?.() ?? []).filter((group) => group !== process.getgid?.());
  const who = `the server runs as uid ${process.getuid?.() ?? '?'} gid ${process.getgid?.() ?? '?'}${groups.length > 0 ? ` (also groups ${groups.join(',')})` : ''}`;
  let path = resolve(uploadsDir);
  for (;;) {
    try {
      const { uid, gid, mode } = statSync(path);
      const owner = `owned by ${uid}:${gid}, mode ${(mode & 0o7777).toString(8).padStart(4, '0')}`;
      return path === resolve(uploadsDir) ? `${who}; the folder is ${owner}` : `${who}; the folder does not exist, and ${path}, where it would be created, is ${owner}`;
    } catch (error) {
      // Not even the folder above may be looked at (a parent without x for this user): say who only.
      if (codeOf(error) !== 'ENOENT' || dirname(path) === path) return who;
      path = dirname(path);
    }
  }
}

/**
 * A 201 promises that the upload's name survives a power cut, and that includes the names of
 * the folders it is in: the folder above the first one the start created, and each created.
 */
export function foldersToSync(firstCreated: string, uploadsDir: string): string[] {
  const folders = [dirname(firstCreated), firstCreated];
  for (const part of relative(firstCreated, uploadsDir).split(sep)) if (part !== '') folders.push(join(folders.at(-1)!, part));
  return folders;
}

/**
 * A folder this process may not read (a parent with mode 0733) cannot be opened to be synced:
 * then the file system syncs it on its own schedule, which is logged, and the start goes on.
 */
function syncCreatedFolders(firstCreated: string, uploadsDir: string, log: Logger): void {
  for (const path of foldersToSync(firstCreated, uploadsDir)) {
    try {
      syncFolder(NODE_FS, path);
    } catch (error) {
      log.warn({ folder: path, code: codeOf(error) }, 'cannot fsync a folder created for UPLOADS_DIR; its entry is durable once the file system syncs it');
    }
  }
}
