// Path rules, pure: what a target may name before the file system is touched, and where a
// real path the worker resolved lies against its root.
import { sep } from 'node:path';
import type { Refused } from '../core/refusals.js';

export type PathCheck = { readonly ok: true; readonly path: string } | Refused;

const refuse = (refusal: Refused['refusal'], detail: string): Refused => ({ ok: false, refusal, detail });

/**
 * Decodes the path part of an origin-form target once and refuses anything that could
 * name a file outside the root or a hidden file. Returns the decoded path, starting with "/".
 */
export function checkRequestPath(target: string): PathCheck {
  const queryAt = target.indexOf('?');
  const rawPath = queryAt === -1 ? target : target.slice(0, queryAt);
  if (!rawPath.startsWith('/')) return refuse('path_not_absolute', 'target is not an absolute path');
  if (rawPath.startsWith('//')) return refuse('double_slash', 'path starts with //');
  let path = rawPath;
  try {
    if (rawPath.includes('%')) path = decodeURIComponent(rawPath);
  } catch {
    return refuse('bad_percent_encoding', 'invalid percent-encoding');
  }
  if (path.includes('\0')) return refuse('nul_in_path', 'NUL byte in path');
  if (/[\x01-\x1f\x7f]/.test(path)) return refuse('control_in_path', 'control character in path');
  if (path.includes('\\')) return refuse('backslash_in_path', 'backslash in path');
  if (path.startsWith('//')) return refuse('double_slash', 'path starts with //');
  // Every segment follows a "/", so without "/." no segment starts with a dot.
  if (!path.includes('/.')) return { ok: true, path };
  for (const segment of path.split('/')) {
    if (segment === '.' || segment === '..') return refuse('dot_segment', 'dot segment in path');
    if (segment.startsWith('.')) return refuse('hidden_file', 'hidden file');
  }
  return { ok: true, path };
}

/**
 * The folder kubelet's atomic writer keeps a ConfigMap, Secret, projected or downward API
 * volume's files in: `os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))`,
 * so `..`, the UTC time, `.` and MkdirTemp's random suffix, a uint32 in decimal (1 to 10
 * digits; 9 with leading zeros from Go before 1.17). Every visible name of the volume is a
 * symlink through `..data` into it. `..data` itself (and `..data_tmp` during an update) is a
 * symlink, so a real path never holds it.
 */
const KUBELET_DATA_FOLDER = /^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d{1,10}$/;

/**
 * Whether a name on a file's real path below the document root hides it: a name starting
 * with a dot (a link `public.txt -> .env` must not publish `.env`), except kubelet's data
 * folder, which every file of a mounted ConfigMap really lies in. A request cannot name that
 * folder (checkRequestPath refuses every dot segment): only the volume's own links reach it.
 */
export function isHiddenOnDisk(name: string): boolean {
  return name.startsWith('.') && !KUBELET_DATA_FOLDER.test(name);
}

/** Whether a folder name is one an update of a kubelet volume replaces: `..data` or the folder it points to. */
export function isReplacedByVolumeUpdates(name: string): boolean {
  return name === '..data' || KUBELET_DATA_FOLDER.test(name);
}

/**
 * The part of `path` below `root`, with no leading separator: '' for the root itself, null for
 * a path outside it. Both are absolute and normalized, as real paths are; the root may end in a
 * separator, as the file system's own root `/` does. Names are compared whole: `/srvx` is not
 * below `/srv`.
 */
export function pathBelow(path: string, root: string): string | null {
  const prefix = root.endsWith(sep) ? root : root + sep;
  if (path.startsWith(prefix)) return path.slice(prefix.length);
  return path === root || path + sep === prefix ? '' : null;
}

/**
 * Where a real path lies against the root: outside it, inside but hidden by one of the names
 * below the root (isHiddenOnDisk; the root's own names may hold dots), or inside and servable.
 */
export function placeInRoot(realPath: string, root: string): 'inside' | 'hidden' | 'outside' {
  const below = pathBelow(realPath, root);
  if (below === null) return 'outside';
  // Most real paths have no dot name at all: one scan answers them without a split.
  if (!below.startsWith('.') && !below.includes(`${sep}.`)) return 'inside';
  return below.split(sep).some(isHiddenOnDisk) ? 'hidden' : 'inside';
}
