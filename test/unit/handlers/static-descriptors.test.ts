// What a static job reports of the descriptors it opens: the pool closes those reported open
// and not yet closing when it stops a worker (a read on a hung mount), so each must be reported
// as soon as it is open, reported closing while it is still open, and left reported only when
// the result hands it to the main thread.
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, mkdtempSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { JobResult, StaticJob } from '../../../src/core/job.js';
import { contentTable } from '../../../src/handlers/content-types.js';
import { doBatch, resultParts, type BatchReport, type WorkContext } from '../../../src/handlers/work.js';

const root = realpathSync(mkdtempSync(join(tmpdir(), 'rawhttp-static-fds-')));
const outside = realpathSync(mkdtempSync(join(tmpdir(), 'rawhttp-static-outside-')));
after(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

const SMALL_FILE_BYTES = 1024;
const context: WorkContext = {
  resourcesRoot: root,
  uploadsRoot: join(root, 'uploads'),
  contentTable: contentTable({ inlineTypes: ['text/html', 'text/plain'], downloadTypes: [] }),
  smallFileBytes: SMALL_FILE_BYTES,
  cacheControl: 'no-cache',
  minFreeDiskBytes: 0,
};

writeFileSync(join(root, 'page.html'), '<p>page</p>');
writeFileSync(join(root, 'zipped.html'), '<p>zipped</p>');
writeFileSync(join(root, 'zipped.html.gz'), 'gzip bytes');
writeFileSync(join(root, 'large.txt'), 'x'.repeat(SMALL_FILE_BYTES + 1));
writeFileSync(join(root, 'data.unknown-extension'), 'refused');
mkdirSync(join(root, 'docs'));
writeFileSync(join(root, 'docs', 'index.html'), '<p>docs</p>');
writeFileSync(join(outside, 'secret.html'), 'secret');
symlinkSync(join(outside, 'secret.html'), join(root, 'leak.html'));

/** Where `fd` points now; "closed" once it is closed. */
const target = (fd: number): string => {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`).replace(root, '<root>').replace(outside, '<outside>');
  } catch {
    return 'closed';
  }
};

/** Runs one static job, recording each descriptor reported open or closing, with where it pointed then. */
function serve(path: string, extra: Partial<StaticJob> = {}): { result: JobResult; reported: string[]; stillHeld: number[] } {
  const reported: string[] = [];
  const held = new Set<number>();
  const report: BatchReport = {
    starting: () => undefined,
    note: () => undefined,
    finished: (result) => resultParts.descriptorsOf(result).forEach((fd) => held.add(fd)),
    opened: (fd) => {
      reported.push(`opened ${target(fd)}`);
      held.add(fd);
    },
    closing: (fd) => {
      reported.push(`closing ${target(fd)}`);
      held.delete(fd);
    },
  };
  const job: StaticJob = { kind: 'static', method: 'GET', path, conditions: {}, acceptEncoding: undefined, query: '', held: undefined, ...extra };
  const [result] = doBatch([job], context, report);
  return { result: result!, reported, stillHeld: [...held] };
}

test('a small file read whole is reported open, then closing before its close', () => {
  const { result, reported, stillHeld } = serve('/page.html');
  assert.equal(result.response.status, 200);
  assert.deepEqual(reported, ['opened <root>/page.html', 'closing <root>/page.html']);
  assert.deepEqual(stillHeld, []);
});

test('a streamed file stays reported: the result hands its descriptor to the main thread', () => {
  const { result, reported, stillHeld } = serve('/large.txt');
  assert.equal(result.response.body.kind, 'file');
  const fd = resultParts.descriptorsOf(result)[0]!;
  try {
    assert.deepEqual(reported, ['opened <root>/large.txt']);
    assert.deepEqual(stillHeld, [fd]);
  } finally {
    closeSync(fd);
  }
});

test('a precompressed variant: the page is released when the variant replaces it, the variant once read', () => {
  const { result, reported, stillHeld } = serve('/zipped.html', { acceptEncoding: 'gzip' });
  assert.deepEqual(result.response.headers.find(([name]) => name === 'Content-Encoding'), ['Content-Encoding', 'gzip']);
  assert.deepEqual(reported, ['opened <root>/zipped.html', 'opened <root>/zipped.html.gz', 'closing <root>/zipped.html', 'closing <root>/zipped.html.gz']);
  assert.deepEqual(stillHeld, []);
});

test("a folder is released before its page is opened, and before a redirect to its slash", () => {
  assert.deepEqual(serve('/docs/').reported, ['opened <root>/docs', 'closing <root>/docs', 'opened <root>/docs/index.html', 'closing <root>/docs/index.html']);
  const redirect = serve('/docs');
  assert.equal(redirect.result.response.status, 301);
  assert.deepEqual(redirect.reported, ['opened <root>/docs', 'closing <root>/docs']);
});

test('a file refused after its open (outside the root, of a refused type, a POST) is released before its close', () => {
  const refusals: Array<[string, Partial<StaticJob>, number, string]> = [
    ['/leak.html', {}, 403, '<outside>/secret.html'],
    ['/data.unknown-extension', {}, 415, '<root>/data.unknown-extension'],
    ['/page.html', { method: 'POST' }, 405, '<root>/page.html'],
  ];
  for (const [path, extra, status, file] of refusals) {
    const { result, reported, stillHeld } = serve(path, extra);
    assert.equal(result.response.status, status, path);
    assert.deepEqual(reported, [`opened ${file}`, `closing ${file}`], path);
    assert.deepEqual(stillHeld, [], path);
  }
});
