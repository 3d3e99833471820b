// Resuming a broken download with the real tools people use: `wget -c` and `curl -C -` must
// finish a truncated copy of the large sample image to a byte-identical file, by asking the
// server for the rest with a Range request (a 206 in the server's request log).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RESOURCES_DIR, startServer, type LogLine, type StartedServer } from '../helpers/server.js';
import { skipWithout } from '../helpers/tools.js';

const IMAGE = readFileSync(join(RESOURCES_DIR, 'sample_image.png'));
const BROKEN_AT = 300 * 1024;
const TOOL_TIMEOUT_MS = 60_000;

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Runs a tool to completion; rejects with its output when it fails. */
function run(tool: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    // No proxy variables: the tools must talk to the server on loopback directly.
    const env = { PATH: process.env.PATH ?? '', HOME: tmpdir() };
    execFile(tool, args, { env, timeout: TOOL_TIMEOUT_MS }, (error, stdout, stderr) => {
      if (error === null) resolve();
      else reject(new Error(`${tool} ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`));
    });
  });
}

const isImageRequest = (line: LogLine): boolean => line.msg === 'request' && line.path === '/sample_image.png';

/** The first request for the image logged after the log held `mark` lines. */
function imageRequestAfter(server: StartedServer, mark: number): Promise<LogLine> {
  return server.waitForLog((line) => isImageRequest(line) && server.logs.indexOf(line) >= mark);
}

describe('resuming a broken download with real tools', { skip: skipWithout(['wget', 'curl'], 'wget curl') }, () => {
  let server: StartedServer;
  let dir: string;
  let url: string;

  before(async () => {
    assert.ok(IMAGE.length > 1024 * 1024 && BROKEN_AT < IMAGE.length / 2);
    server = await startServer();
    dir = mkdtempSync(join(tmpdir(), 'rawhttp-resume-'));
    // The address both tools put in the Host header, which the default allowed list holds.
    url = `http://127.0.0.1:${server.port}/sample_image.png`;
  });

  after(async () => {
    await server?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  /** Writes the first BROKEN_AT bytes, as an interrupted download leaves them. */
  function brokenCopy(name: string): string {
    const path = join(dir, name);
    writeFileSync(path, IMAGE.subarray(0, BROKEN_AT));
    return path;
  }

  /** Waits for the log line of the resumed request: a 206 that sent only the missing part. */
  async function assertResumedWithRange(mark: number): Promise<void> {
    const resumed = await imageRequestAfter(server, mark);
    assert.equal(resumed.status, 206, `the tool's request got ${String(resumed.status)}`);
    assert.equal(resumed.method, 'GET');
    // Head plus the rest of the file: far less than the whole image.
    assert.ok(Number(resumed.bytes) < IMAGE.length - BROKEN_AT + 4096, `sent ${String(resumed.bytes)} bytes`);
    assert.ok(Number(resumed.bytes) >= IMAGE.length - BROKEN_AT);
  }

  test('wget -c completes the file byte-identical with a Range request', async () => {
    const file = brokenCopy('wget.png');
    const mark = server.logs.length;
    await run('wget', ['--no-config', '--no-proxy', '--tries=1', '--timeout=30', '-nv', '-c', url, '-O', file]);
    assert.equal(sha256(readFileSync(file)), sha256(IMAGE));
    await assertResumedWithRange(mark);
  });

  test('curl -C - completes the file byte-identical with a Range request', async () => {
    const file = brokenCopy('curl.png');
    const mark = server.logs.length;
    // -q first: ignore any ~/.curlrc; -f: an HTTP error must fail the run.
    await run('curl', ['-q', '--noproxy', '*', '-sS', '-f', '--max-time', '60', '-C', '-', '-o', file, url]);
    assert.equal(sha256(readFileSync(file)), sha256(IMAGE));
    await assertResumedWithRange(mark);
  });

  test('wget -c on a complete file leaves it as it is (the server answers 416)', async () => {
    const file = join(dir, 'complete.png');
    writeFileSync(file, IMAGE);
    const mark = server.logs.length;
    await run('wget', ['--no-config', '--no-proxy', '--tries=1', '--timeout=30', '-nv', '-c', url, '-O', file]);
    assert.equal(sha256(readFileSync(file)), sha256(IMAGE));
    const answer = await imageRequestAfter(server, mark);
    assert.equal(answer.status, 416);
  });
});
