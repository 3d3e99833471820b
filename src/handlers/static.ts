// GET and HEAD for files under the document root. Runs on a worker thread, so it uses the
// synchronous fs calls (about 15 us against 75-100 us through libuv's async pool).
import { closeSync, fstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { basename, join, sep } from 'node:path';
import { errorResponse, NO_BODY, type HandlerResponse } from '../http/response.js';
import type { StaticWork, WorkResult } from '../pool/messages.js';
import { STATIC_ALLOW } from './router.js';
import { classify, presentationHeaders, type ContentPolicy } from './files.js';

export interface StaticContext extends ContentPolicy {
  /** Real (symlink-free) paths of the roots. */
  readonly resourcesRoot: string;
  readonly uploadsRoot: string;
  /** Files up to this size are read and sent in one piece; larger ones are streamed. */
  readonly smallFileBytes: number;
}

const UPLOADS_PREFIX = '/uploads';

type Located = { readonly ok: true; readonly realPath: string; readonly fd: number } | { readonly ok: false; readonly result: WorkResult };

const fail = (status: number, method: string, log?: WorkResult['log'], extra: WorkResult = { response: errorResponse(status, method) }): Located => ({
  ok: false,
  result: log === undefined ? extra : { ...extra, log },
});

function isInside(realPath: string, root: string): boolean {
  return realPath === root || realPath.startsWith(root + sep);
}

/** Finds the file a checked path names, following symlinks only while they stay inside the root. */
function locate(work: StaticWork, context: StaticContext): Located {
  const inUploads = work.path === UPLOADS_PREFIX || work.path.startsWith(`${UPLOADS_PREFIX}/`);
  const root = inUploads ? context.uploadsRoot : context.resourcesRoot;
  let candidate = join(root, inUploads ? work.path.slice(UPLOADS_PREFIX.length) : work.path);
  if (work.path.endsWith('/')) candidate = join(candidate, 'index.html');
  for (let attempt = 0; attempt < 2; attempt++) {
    let realPath: string;
    try {
      realPath = realpathSync.native(candidate);
    } catch {
      return fail(404, work.method);
    }
    if (!isInside(realPath, root)) {
      return {
        ok: false,
        result: {
          response: errorResponse(403, work.method),
          securityRule: 'outside_root',
          log: { level: 'warn', message: 'security refusal', fields: { reason: 'path resolves outside the document root' } },
        },
      };
    }
    const stats = statSync(realPath, { throwIfNoEntry: false });
    if (stats?.isDirectory()) {
      // A folder serves its index.html, never a listing.
      candidate = join(realPath, 'index.html');
      continue;
    }
    if (!stats?.isFile()) return fail(404, work.method);
    try {
      return { ok: true, realPath, fd: openSync(realPath, 'r') };
    } catch {
      return fail(404, work.method);
    }
  }
  return fail(404, work.method);
}

function readWhole(fd: number, size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let at = 0;
  while (at < size) {
    const read = readSync(fd, bytes, at, size - at, at);
    if (read === 0) return bytes.subarray(0, at);
    at += read;
  }
  return bytes;
}

export function serveStatic(work: StaticWork, context: StaticContext): WorkResult {
  const located = locate(work, context);
  if (!located.ok) return located.result;
  const { fd, realPath } = located;
  let keepOpen = false;
  try {
    if (work.method === 'POST') return { response: errorResponse(405, work.method, [['Allow', STATIC_ALLOW]]) };
    const name = basename(realPath);
    const presentation = classify(name, context);
    if (presentation.kind === 'unsupported') return { response: errorResponse(415, work.method) };
    // Size and date from the open descriptor, so they describe exactly the bytes we send.
    const stats = fstatSync(fd);
    const headers = [
      ...presentationHeaders(presentation, name),
      ['Last-Modified', stats.mtime.toUTCString()],
      ['Cache-Control', 'no-cache'],
    ] as const;
    const response = (body: HandlerResponse['body'], length: number): WorkResult => ({
      response: { status: 200, headers, contentLength: length, body },
    });
    if (work.method === 'HEAD') return response(NO_BODY, stats.size);
    if (stats.size > context.smallFileBytes) {
      keepOpen = true; // the connection streams it and closes the descriptor
      return response({ kind: 'file', fd, length: stats.size }, stats.size);
    }
    const bytes = readWhole(fd, stats.size);
    return response({ kind: 'bytes', bytes }, bytes.length);
  } finally {
    if (!keepOpen) closeSync(fd);
  }
}
