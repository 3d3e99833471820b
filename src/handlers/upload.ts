// POST /upload: validates a JSON document and stores exactly the bytes sent, atomically and
// durably. Runs on a worker thread. A file appears under its final name only when complete:
// temporary file (exclusive create) -> write -> fsync -> hard link to a fresh name (fails
// instead of overwriting) -> remove temporary -> fsync folder.
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, linkSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { errorResponse, type HandlerResponse } from '../http/response.js';
import type { UploadWork, WorkResult } from '../pool/messages.js';
import { checkJson } from './json.js';
import { TEMP_RANDOM_BYTES, temporaryName, thisProcess } from './upload-temporaries.js';

export interface UploadContext {
  /** Real path of the uploads folder. */
  readonly uploadsRoot: string;
}

/** Names this process's temporaries, so replicas sharing the folder can tell whose they are. */
const OWNER = thisProcess();
const MAX_NAME_ATTEMPTS = 8;
const STORAGE_FULL = new Set(['ENOSPC', 'EDQUOT']);
const LINK_UNSUPPORTED = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function pad(value: number, width = 2): string {
  return String(value).padStart(width, '0');
}

/** `upload_YYYYMMDD_HHMMSS_<16 hex>.json` in UTC. */
export function uploadName(now: Date, random: string): string {
  const date = `${now.getUTCFullYear()}${pad(now.getUTCMonth() + 1)}${pad(now.getUTCDate())}`;
  const time = `${pad(now.getUTCHours())}${pad(now.getUTCMinutes())}${pad(now.getUTCSeconds())}`;
  return `upload_${date}_${time}_${random}.json`;
}

function jsonResponse(status: number, document: unknown, extraHeaders: [string, string][] = []): HandlerResponse {
  const bytes = new TextEncoder().encode(JSON.stringify(document));
  return {
    status,
    headers: [['Content-Type', 'application/json'], ['Cache-Control', 'no-store'], ...extraHeaders],
    contentLength: bytes.length,
    body: { kind: 'bytes', bytes },
  };
}

function badRequest(message: string): WorkResult {
  return { response: jsonResponse(400, { status: 'error', message }) };
}

/** Checks the body: UTF-8 without a BOM, one JSON value. Returns the problem, or null. */
export function uploadProblem(body: Uint8Array): string | null {
  if (body.length === 0) return 'empty body: a JSON document is required';
  if (body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) return 'byte order mark not allowed: send UTF-8 without a BOM';
  try {
    utf8.decode(body);
  } catch {
    return 'body is not valid UTF-8';
  }
  const json = checkJson(body);
  return json.ok ? null : `invalid JSON at byte ${json.offset}: ${json.message}`;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let at = 0;
  while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
}

function syncFolder(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Stores the bytes under a fresh name; returns the name. Leaves nothing behind on failure. */
function store(body: Uint8Array, folder: string): string {
  const tempPath = join(folder, temporaryName(OWNER, randomBytes(TEMP_RANDOM_BYTES).toString('hex')));
  const fd = openSync(tempPath, 'wx', 0o644);
  let name: string;
  try {
    try {
      writeAll(fd, body);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    name = publish(tempPath, folder);
  } finally {
    try {
      rmSync(tempPath, { force: true });
    } catch {
      // Hidden, never served, and removed by a later start once abandoned; the outcome stands.
    }
  }
  syncFolder(folder);
  return name;
}

/** Gives the complete temporary file its final name, never replacing an existing file. */
function publish(tempPath: string, folder: string): string {
  for (let attempt = 1; ; attempt++) {
    const name = uploadName(new Date(), randomBytes(8).toString('hex'));
    const finalPath = join(folder, name);
    try {
      linkSync(tempPath, finalPath); // fails with EEXIST instead of overwriting
      return name;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? '';
      if (attempt === MAX_NAME_ATTEMPTS) throw error;
      if (code === 'EEXIST') continue;
      if (!LINK_UNSUPPORTED.has(code)) throw error;
      // File systems without hard links (some network and desktop bind mounts): rename is
      // still atomic; the 64-bit random part makes a clash on the checked name negligible.
      if (existsSync(finalPath)) continue;
      renameSync(tempPath, finalPath);
      return name;
    }
  }
}

export function handleUpload(work: UploadWork, context: UploadContext): WorkResult {
  const problem = uploadProblem(work.body);
  if (problem !== null) return badRequest(problem);
  try {
    const name = store(work.body, context.uploadsRoot);
    const filepath = `/uploads/${name}`;
    return {
      response: jsonResponse(201, { status: 'success', message: 'File created successfully', filepath }, [['Location', filepath]]),
      storedBytes: work.body.length,
      log: { level: 'info', message: 'upload stored', fields: { file: name, bytes: work.body.length } },
    };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown';
    if (STORAGE_FULL.has(code)) {
      return { response: errorResponse(507, 'POST'), log: { level: 'warn', message: 'upload refused: storage full', fields: { code } } };
    }
    return {
      response: errorResponse(500, 'POST'),
      log: { level: 'error', message: 'upload failed', fields: { code, error: String((error as Error).stack ?? error) } },
    };
  }
}
