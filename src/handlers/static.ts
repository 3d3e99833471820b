// GET and HEAD for files under the document root. Runs on a worker thread, so it uses the
// synchronous fs calls (about 15 us against 75-100 us through libuv's async pool).
import { closeSync, fstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { basename, join, sep } from 'node:path';
import { errorResponse, NO_BODY, redirectResponse, type HandlerResponse, type HeaderList } from '../http/response.js';
import type { StaticWork, WorkResult } from '../pool/messages.js';
import { acceptedEncodings, decide, entityTag, type Encoding } from './conditional.js';
import { classify, presentationHeaders, type ContentPolicy } from './files.js';
import { STATIC_ALLOW } from './router.js';

export interface StaticContext extends ContentPolicy {
  /** Real (symlink-free) paths of the roots. */
  readonly resourcesRoot: string;
  readonly uploadsRoot: string;
  /** Files up to this size are read and sent in one piece; larger ones are streamed. */
  readonly smallFileBytes: number;
  /** Cache-Control for files of the document root (uploads are always no-store). */
  readonly cacheControl: string;
}

const UPLOADS_PREFIX = '/uploads';
const ENCODING_SUFFIX: Readonly<Record<Encoding, string>> = { br: '.br', gzip: '.gz' };

type Located =
  | { readonly ok: true; readonly realPath: string; readonly root: string; readonly inUploads: boolean }
  | { readonly ok: false; readonly result: WorkResult };

const notFound = (method: string): Located => ({ ok: false, result: { response: errorResponse(404, method) } });

function isInside(realPath: string, root: string): boolean {
  return realPath === root || realPath.startsWith(root + sep);
}

/** The real path of a regular file inside `root`, or null. */
function realFileInside(candidate: string, root: string): string | null {
  try {
    const realPath = realpathSync.native(candidate);
    return isInside(realPath, root) && statSync(realPath).isFile() ? realPath : null;
  } catch {
    return null;
  }
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
      return notFound(work.method);
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
      // `/docs` goes to `/docs/`, so the page's relative links resolve inside the folder.
      if (attempt === 0 && !work.path.endsWith('/')) {
        if (realFileInside(join(realPath, 'index.html'), root) === null) return notFound(work.method);
        const location = `${work.path.split('/').map(encodeURIComponent).join('/')}/`;
        return { ok: false, result: { response: redirectResponse(location, work.method) } };
      }
      // A folder serves its index.html, never a listing.
      candidate = join(realPath, 'index.html');
      continue;
    }
    return stats?.isFile() ? { ok: true, realPath, root, inUploads } : notFound(work.method);
  }
  return notFound(work.method);
}

function readRange(fd: number, start: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let at = 0;
  while (at < length) {
    const read = readSync(fd, bytes, at, length - at, start + at);
    if (read === 0) return bytes.subarray(0, at);
    at += read;
  }
  return bytes;
}

/** Precompressed siblings (`name.html.br`, `name.html.gz`) that exist, and the one to send. */
function chooseEncoding(realPath: string, root: string, acceptEncoding: string | undefined): { variants: number; chosen: { encoding: Encoding; path: string } | null } {
  const available = new Map<Encoding, string>();
  for (const encoding of Object.keys(ENCODING_SUFFIX) as Encoding[]) {
    const path = realFileInside(realPath + ENCODING_SUFFIX[encoding], root);
    if (path !== null) available.set(encoding, path);
  }
  const encoding = acceptedEncodings(acceptEncoding).find((candidate) => available.has(candidate));
  return { variants: available.size, chosen: encoding === undefined ? null : { encoding, path: available.get(encoding)! } };
}

export function serveStatic(work: StaticWork, context: StaticContext): WorkResult {
  const located = locate(work, context);
  if (!located.ok) return located.result;
  const { realPath, root, inUploads } = located;
  if (work.method === 'POST') return { response: errorResponse(405, work.method, [['Allow', STATIC_ALLOW]]) };
  const name = basename(realPath);
  const presentation = classify(name, context);
  if (presentation.kind === 'unsupported') return { response: errorResponse(415, work.method) };

  // Attachments are sent as stored; only pages shown inline may come precompressed.
  const { variants, chosen } = presentation.kind === 'inline' ? chooseEncoding(realPath, root, work.acceptEncoding) : { variants: 0, chosen: null };
  let fd: number;
  try {
    fd = openSync(chosen?.path ?? realPath, 'r');
  } catch {
    return { response: errorResponse(404, work.method) };
  }
  let keepOpen = false;
  try {
    // Size and date from the open descriptor, so they describe exactly the bytes we send.
    const stats = fstatSync(fd);
    const etag = entityTag(stats.size, stats.mtimeMs, chosen?.encoding);
    const validators: HeaderList = [
      ['ETag', etag],
      ['Last-Modified', stats.mtime.toUTCString()],
      ['Cache-Control', inUploads ? 'no-store' : context.cacheControl],
      ...(variants > 0 ? ([['Vary', 'Accept-Encoding']] as const) : []),
    ];
    const headers: HeaderList = [
      ...presentationHeaders(presentation, name),
      ...(chosen !== null ? ([['Content-Encoding', chosen.encoding]] as const) : []),
      ['Accept-Ranges', 'bytes'],
      ...validators,
    ];
    const decision = decide(work.conditions, { size: stats.size, mtimeMs: stats.mtimeMs, etag }, work.method === 'GET');
    switch (decision.kind) {
      case 'precondition-failed':
        return { response: errorResponse(412, work.method) };
      case 'not-modified':
        return { response: { status: 304, headers: validators, contentLength: null, body: NO_BODY } };
      case 'unsatisfiable':
        return { response: errorResponse(416, work.method, [['Content-Range', `bytes */${stats.size}`]]) };
    }
    const partial = decision.kind === 'partial';
    const start = partial ? decision.start : 0;
    const length = partial ? decision.end - decision.start + 1 : stats.size;
    const respond = (body: HandlerResponse['body'], sent: number): WorkResult => ({
      response: {
        status: partial ? 206 : 200,
        headers: partial ? [...headers, ['Content-Range', `bytes ${start}-${start + length - 1}/${stats.size}`]] : headers,
        contentLength: sent,
        body,
      },
    });
    if (work.method === 'HEAD') return respond(NO_BODY, length);
    if (length > context.smallFileBytes) {
      keepOpen = true; // the connection streams it and closes the descriptor
      return respond({ kind: 'file', fd, start, length }, length);
    }
    const bytes = readRange(fd, start, length);
    return respond({ kind: 'bytes', bytes }, bytes.length);
  } finally {
    if (!keepOpen) closeSync(fd);
  }
}
