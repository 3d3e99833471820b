// POST /upload: validates a JSON document and stores exactly the bytes sent, atomically and
// durably (upload-storage.ts). Runs on a worker thread. Once the document exists under its
// final name, every answer names it, so a client never has cause to send it twice.
import { isUtf8 } from 'node:buffer';
import type { JobResult, NamedUploadJob } from '../core/job.js';
import { errorResponse, jsonRefusal, jsonResponse, refusalResponse, storedUnconfirmedResponse } from '../core/response.js';
import { UPLOADS_PREFIX } from '../core/routes.js';
import { freeBytes, hasRoom } from './disk-guard.js';
import { checkJson } from './json.js';
import { completeAll, writeAndLink, type Completion, type Linked, type StorageFs } from './upload-storage.js';
import { firstInvalidUtf8 } from './utf8.js';

export interface UploadContext {
  /** Real path of the uploads folder. */
  readonly uploadsRoot: string;
  /** Free space an upload must leave on the uploads file system (0: no check). */
  readonly minFreeDiskBytes: number;
}

const STORAGE_FULL = new Set(['ENOSPC', 'EDQUOT']);

function badRequest(message: string): JobResult {
  return { response: jsonRefusal('invalid_document', message) };
}

/** 507 before anything is written when the upload would eat into MIN_FREE_DISK_BYTES. */
function checkFreeSpace(bytes: number, context: UploadContext): JobResult | null {
  if (context.minFreeDiskBytes === 0) return null;
  const free = freeBytes(context.uploadsRoot);
  if (hasRoom(free, bytes, context.minFreeDiskBytes)) return null;
  return {
    response: refusalResponse('storage_full', 'POST'),
    log: { level: 'warn', message: 'upload refused: free space below MIN_FREE_DISK_BYTES', fields: { freeBytes: free!, minFreeDiskBytes: context.minFreeDiskBytes, bytes }, oncePerSecond: true },
  };
}

/**
 * A 500 before anything is written when the uploads folder no longer leads to `uploadsRoot`,
 * the real path it had at start, from which GET serves /uploads: replaced by a link to a
 * folder elsewhere, it would take the document and GET would refuse it as outside the root.
 * A folder removed or renamed away fails as any storage failure does (ENOENT); a new real
 * folder under the same name passes. What this cannot guard: a swap between this check and
 * the exclusive open of the temporary (Node has no openat(2) to create a file in the folder
 * checked). A swap after the open makes the link fail, the temporary's name being absent
 * from the new folder.
 */
function checkFolder(context: UploadContext, fs: StorageFs): JobResult | null {
  let now: string;
  try {
    now = fs.realpathSync.native(context.uploadsRoot);
  } catch (error) {
    return notStored(error);
  }
  if (now === context.uploadsRoot) return null;
  return {
    response: errorResponse(500, 'POST'),
    log: { level: 'error', message: 'upload failed: UPLOADS_DIR now leads elsewhere', fields: { folder: context.uploadsRoot, now }, oncePerSecond: true },
  };
}

/** Checks the body: UTF-8 without a BOM, one JSON value. Returns the problem, or null. */
export function uploadProblem(body: Uint8Array): string | null {
  if (body.length === 0) return 'empty body: a JSON document is required';
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) return 'byte order mark not allowed: send UTF-8 without a BOM';
  // isUtf8 is the fast check; only a body it refuses is walked again to find where.
  const invalidAt = isUtf8(body) ? null : firstInvalidUtf8(body);
  if (invalidAt !== null) return `body is not valid UTF-8 at byte ${invalidAt}`;
  const json = checkJson(body);
  return json.ok ? null : `invalid JSON at byte ${json.offset}: ${json.message}`;
}

/**
 * Nothing was stored: 507 when the disk is full, else 500. Either is a condition of the folder
 * (full, gone, unwritable) that every upload meets while it lasts, so it is logged once a second.
 */
function notStored(error: unknown): JobResult {
  const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
  if (STORAGE_FULL.has(code)) {
    return { response: refusalResponse('storage_full', 'POST'), log: { level: 'warn', message: 'upload refused: storage full', fields: { code }, oncePerSecond: true } };
  }
  return {
    response: errorResponse(500, 'POST'),
    log: { level: 'error', message: 'upload failed', fields: { code, error: String((error as Error).stack ?? error) }, oncePerSecond: true },
  };
}

/**
 * The document exists. 201 when it is durable; when the folder fsync failed, a 500 whose body
 * names the file, so the client can fetch it instead of sending it again (docs/uploads.md).
 */
function stored(name: string, bytes: number, completion: Completion): JobResult {
  const filepath = `${UPLOADS_PREFIX}/${name}`;
  if (completion.kind === 'unconfirmed') {
    return {
      response: storedUnconfirmedResponse(filepath),
      storedBytes: bytes,
      log: { level: 'error', message: 'upload stored but not confirmed durable: folder fsync failed', fields: { file: name, bytes, code: completion.code, error: completion.error } },
    };
  }
  const fields: Record<string, string | number> = { file: name, bytes };
  if (completion.notes.length > 0) fields.notes = completion.notes.join('; ');
  return {
    response: jsonResponse(201, { status: 'success', message: 'File created successfully', filepath }, [['Location', filepath]]),
    storedBytes: bytes,
    log: { level: completion.notes.length === 0 ? 'info' : 'warn', message: 'upload stored', fields },
  };
}

/** An upload whose document exists under its final name, waiting for its group's folder fsync. */
export interface LinkedUpload {
  readonly linked: Linked;
  readonly bytes: number;
}

/**
 * The first part of storing an upload: validate, write, fsync and link. Returns the answer
 * when the upload ends here (refused or not stored), else the linked document, which
 * `finishUploads` completes. `onLinked` learns the name as soon as the document exists.
 */
export function linkUpload(job: NamedUploadJob, context: UploadContext, fs: StorageFs, onLinked: (name: string) => void): JobResult | LinkedUpload {
  const problem = uploadProblem(job.body);
  if (problem !== null) return badRequest(problem);
  // Before the free space, which would otherwise be measured wherever the folder leads now.
  const misplaced = checkFolder(context, fs);
  if (misplaced !== null) return misplaced;
  const lowSpace = checkFreeSpace(job.body.length, context);
  if (lowSpace !== null) return lowSpace;
  let linked: Linked;
  try {
    linked = writeAndLink(job.body, job.temporary, context.uploadsRoot, fs);
  } catch (error) {
    return notStored(error);
  }
  onLinked(linked.name);
  return { linked, bytes: job.body.length };
}

/** The answers of uploads linked one after the other, after one folder fsync for them all. */
export function finishUploads(group: readonly LinkedUpload[], context: UploadContext, fs: StorageFs): JobResult[] {
  if (group.length === 0) return [];
  const completions = completeAll(group.map((upload) => upload.linked), context.uploadsRoot, fs);
  return group.map((upload, index) => stored(upload.linked.name, upload.bytes, completions[index]!));
}

export const isLinked = (outcome: JobResult | LinkedUpload): outcome is LinkedUpload => 'linked' in outcome;
