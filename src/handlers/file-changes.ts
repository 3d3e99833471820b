// What a worker's open file is, and what became of it while it was read: the path its
// descriptor really names (also once the file was renamed over or removed), and whether the
// bytes read are one whole version. A deploy renames new versions over files being served.
import type { Stats } from 'node:fs';
import { fs } from './builtins.js';

/** How Linux names the descriptor of a file unlinked since it was opened. */
const DELETED_SUFFIX = ' (deleted)';

/** Where the descriptor really points: one readlink on Linux, a realpath walk elsewhere. */
export function realPathOf(fd: number, opened: string, stats: Stats): string {
  try {
    const linked = fs.readlinkSync(`/proc/self/fd/${fd}`);
    // The suffix first: only then is the file under the whole name worth a look.
    return linked.endsWith(DELETED_SUFFIX) ? nameBeforeDeletion(linked, (path) => isSameFile(path, stats)) : linked;
  } catch {
    return fs.realpathSync.native(opened);
  }
}

/**
 * The path a descriptor's link names. A file unlinked since it was opened (a deploy renamed a
 * new version over it, or it was removed) has DELETED_SUFFIX appended; the descriptor still
 * reads that file, whose name was the one before the suffix. A file whose name really ends so
 * is the one found under it. Not judged by a link count: the unlink may fall between the fstat
 * and the readlink, and a file with another hard link keeps a count above 0.
 */
export function nameBeforeDeletion(linked: string, isThisFile: (path: string) => boolean): string {
  return linked.endsWith(DELETED_SUFFIX) && !isThisFile(linked) ? linked.slice(0, -DELETED_SUFFIX.length) : linked;
}

/** Whether `path` names the file `stats` describes (inode and device); a path that cannot be looked at does not. */
function isSameFile(path: string, stats: Stats): boolean {
  try {
    const found = fs.lstatSync(path, { throwIfNoEntry: false });
    return found !== undefined && found.ino === stats.ino && found.dev === stats.dev;
  } catch {
    return false;
  }
}

/** The fields of an fstat that tell what became of a file. */
type FileState = Pick<Stats, 'size' | 'mtimeMs' | 'ctimeMs' | 'nlink'>;

/**
 * What became of an open file while it was read, from its fstat before and after:
 * - 'same': nothing;
 * - 'unlinked': it lost a name (a deploy renamed a new version over it, or it was removed;
 *   a file hard-linked into several release trees keeps a count above 0), or had none left.
 *   That moves its change time, but with its size and modification time as they were, the
 *   bytes are a whole version: only perhaps no longer the one its name serves;
 * - 'changed': written to, resized, or changed in some other way: the bytes may belong to
 *   another version than the tag.
 */
export function afterRead(before: FileState, now: FileState): 'same' | 'unlinked' | 'changed' {
  if (now.size !== before.size || now.mtimeMs !== before.mtimeMs) return 'changed';
  // A file with no name left moved its change time by losing the last one: a rename over it
  // drops the link count before it sets the time (ext4), so the fstat before may already see
  // no link and still the old time.
  if (now.nlink < before.nlink || now.nlink === 0) return 'unlinked';
  return now.ctimeMs === before.ctimeMs ? 'same' : 'changed';
}
