// Static files against the started server: inline pages, byte-identical downloads, HEAD,
// 404/415, path security (traversal, hidden files, symbolic links), no descriptor leaks when
// clients leave, and bounded memory while streaming a large file.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { makeFifo, releaseFifo } from '../helpers/fifo.js';
import { get, parseResponses, RawClient, request, type RawResponse } from '../helpers/raw.js';
import { RESOURCES_DIR, startServer, type StartedServer } from '../helpers/server.js';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
const resource = (name: string): Buffer => readFileSync(join(RESOURCES_DIR, name));

function assertErrorPage(response: RawResponse, status: number, reason: string): void {
  assert.equal(response.status, status);
  assert.equal(response.headers['content-type'], 'text/html; charset=utf-8');
  const page = response.body.toString('utf8');
  assert.match(page, new RegExp(`<h1>${status} ${reason}</h1>`));
  assert.match(page, /rawhttp/);
}

describe('shipped resources', () => {
  let server: StartedServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => {
    await server.stop();
  });

  for (const [path, file] of [['/', 'index.html'], ['/about.html', 'about.html'], ['/contact.html', 'contact.html']] as const) {
    test(`GET ${path} renders ${file} in the browser`, async () => {
      const response = await request(server.port, get(path, server.port));
      assert.equal(response.status, 200);
      assert.equal(response.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(response.headers['content-disposition'], undefined);
      assert.equal(Number(response.headers['content-length']), response.body.length);
      assert.equal(sha256(response.body), sha256(resource(file)));
    });
  }

  for (const name of ['logo.png', 'photo.jpg', 'sample.txt', 'sample_image.png']) {
    test(`GET /${name} downloads byte-identical as an attachment`, async () => {
      const original = resource(name);
      const response = await request(server.port, get(`/${name}`, server.port), 15_000);
      assert.equal(response.status, 200);
      assert.equal(response.headers['content-type'], 'application/octet-stream');
      assert.equal(response.headers['content-disposition'], `attachment; filename="${name}"`);
      assert.equal(Number(response.headers['content-length']), original.length);
      assert.equal(sha256(response.body), sha256(original));
    });
  }

  test('the large sample image is over 1 MiB, so the streaming path is covered', () => {
    assert.ok(resource('sample_image.png').length > 1024 * 1024);
  });

  for (const name of ['sample.txt', 'sample_image.png', 'about.html']) {
    test(`HEAD /${name} sends the GET headers and no body`, async () => {
      const client = await RawClient.connect(server.port);
      try {
        // A GET follows on the same connection: any body after the HEAD would corrupt its response.
        client.write(`HEAD /${name} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n` + get('/sample.txt', server.port));
        const [head, next] = await client.responses(2, 10_000, 1);
        const viaGet = await request(server.port, get(`/${name}`, server.port), 10_000);
        assert.equal(head!.status, 200);
        for (const header of ['content-type', 'content-disposition', 'content-length', 'last-modified']) {
          assert.equal(head!.headers[header], viaGet.headers[header], header);
        }
        assert.equal(head!.body.length, 0);
        assert.equal(next!.status, 200);
        assert.equal(sha256(next!.body), sha256(resource('sample.txt')));
      } finally {
        client.close();
      }
    });
  }

  test('a missing file is 404 with an HTML page', async () => {
    assertErrorPage(await request(server.port, get('/no-such-file.txt', server.port)), 404, 'Not Found');
    assertErrorPage(await request(server.port, get('/missing/deeper/page.html', server.port)), 404, 'Not Found');
  });

  test('HEAD of a missing file is 404 without a body', async () => {
    const client = await RawClient.connect(server.port);
    try {
      client.write(`HEAD /nope.html HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n` + get('/sample.txt', server.port));
      const [head, next] = await client.responses(2, 5000, 1);
      assert.equal(head!.status, 404);
      assert.ok(Number(head!.headers['content-length']) > 0);
      assert.equal(next!.status, 200);
    } finally {
      client.close();
    }
  });

  // Raw bytes on purpose: a client library would normalise these targets before sending.
  for (const target of ['/../etc/passwd', '/./././../config', '/%2e%2e/etc/passwd', '/..%2fetc%2fpasswd', '//etc/passwd', '/sample.txt/..', '/a\\..\\b']) {
    test(`traversal ${target} is 403 and logged at warn with the client`, async () => {
      assertErrorPage(await request(server.port, get(target, server.port)), 403, 'Forbidden');
      const line = await server.waitForLog((l) => l.level === 'warn' && l.target === target);
      assert.equal(line.client, '127.0.0.1');
      assert.match(String(line.reason), /^(dot_segment|double_slash|backslash_in_path)$/);
      assert.equal(typeof line.detail, 'string');
    });
  }

  test('invalid percent-encoding and a NUL byte are 400', async () => {
    assertErrorPage(await request(server.port, get('/%zz.html', server.port)), 400, 'Bad Request');
    assertErrorPage(await request(server.port, get('/index.html%00.png', server.port)), 400, 'Bad Request');
  });

  test('five simultaneous downloads of the large image are all byte-identical', async () => {
    const expected = sha256(resource('sample_image.png'));
    const clients = await Promise.all(Array.from({ length: 5 }, () => RawClient.connect(server.port)));
    try {
      for (const client of clients) client.write(get('/sample_image.png', server.port));
      const responses = await Promise.all(clients.map((client) => client.responses(1, 30_000)));
      for (const [response] of responses) {
        assert.equal(response!.status, 200);
        assert.equal(sha256(response!.body), expected);
      }
    } finally {
      for (const client of clients) client.close();
    }
  });

  test('a client that leaves with downloads still queued leaks no file descriptors', async () => {
    const openFds = (): number => readdirSync(`/proc/${server.process.pid}/fd`).length;
    const baseline = openFds();
    for (let round = 0; round < 20; round++) {
      // Four pipelined large downloads; the client leaves during the first, so three responses
      // holding open files never get their turn.
      await new Promise<void>((resolve) => {
        const socket = connect({ port: server.port, host: '127.0.0.1' }, () => socket.write(get('/sample_image.png', server.port).repeat(4)));
        let received = 0;
        socket.on('data', (chunk: Buffer) => {
          received += chunk.length;
          if (received > 100_000) socket.destroy();
        });
        socket.on('error', () => undefined);
        socket.on('close', () => resolve());
      });
    }
    // The server closes its side asynchronously: wait for the count to settle.
    const deadline = Date.now() + 10_000;
    while (openFds() > baseline + 5 && Date.now() < deadline) await sleep(50);
    assert.ok(openFds() <= baseline + 5, `open descriptors went from ${baseline} to ${openFds()}`);
  });
});

describe('a prepared document root', () => {
  const BIG_BYTES = 256 * 1024 * 1024;
  let root: string;
  let outside: string;
  let server: StartedServer;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'rawhttp-root-'));
    outside = mkdtempSync(join(tmpdir(), 'rawhttp-outside-'));
    writeFileSync(join(outside, 'secret.txt'), 'not for the web\n');
    writeFileSync(join(root, 'index.html'), '<!DOCTYPE html><title>root</title>\n');
    writeFileSync(join(root, 'notes.txt'), 'notes\n');
    writeFileSync(join(root, '.hidden.txt'), 'hidden\n');
    writeFileSync(join(root, 'style.css'), 'body { color: red }\n');
    writeFileSync(join(root, 'setup.exe'), 'MZ');
    writeFileSync(join(root, 'page.htm'), '<!DOCTYPE html><title>htm</title>\n');
    writeFileSync(join(root, 'picture.jpeg'), 'not really a jpeg');
    writeFileSync(join(root, 'doc.json'), '{"a":1}\n');
    writeFileSync(join(root, 'résumé.txt'), 'accents\n');
    mkdirSync(join(root, 'empty'));
    mkdirSync(join(root, 'docs'));
    writeFileSync(join(root, 'docs', 'index.html'), '<!DOCTYPE html><title>docs</title>\n');
    symlinkSync(join(root, 'notes.txt'), join(root, 'inside-link.txt'));
    symlinkSync(join(outside, 'secret.txt'), join(root, 'escape.txt'));
    symlinkSync(outside, join(root, 'escape-dir'));
    // Paths on which a stat fails with something other than ENOENT.
    writeFileSync(join(root, `${'n'.repeat(248)}.html`), '<!DOCTYPE html><title>long</title>\n');
    writeFileSync(join(root, 'loop.html'), '<!DOCTYPE html><title>loop</title>\n');
    symlinkSync('loop.html.br', join(root, 'loop.html.br'));
    mkdirSync(join(root, 'dloop'));
    symlinkSync('index.html', join(root, 'dloop', 'index.html'));
    // Hidden names reached through links with plain names.
    symlinkSync('.hidden.txt', join(root, 'public.txt'));
    mkdirSync(join(root, '.private'));
    writeFileSync(join(root, '.private', 'index.html'), '<!DOCTYPE html><title>private</title>\n');
    symlinkSync('.private', join(root, 'shown'));
    writeFileSync(join(root, 'future.txt'), 'from the future\n');
    utimesSync(join(root, 'future.txt'), new Date('2031-01-01T00:00:00Z'), new Date('2031-01-01T00:00:00Z'));
    writeFileSync(join(root, 'server.log'), 'GET / 200\n');
    writeFileSync(join(root, 'app.conf'), 'password=x\n');
    writeFileSync(join(root, 'notes.text'), 'text\n');
    // Sparse: costs no disk, yet the server must stream every byte.
    writeFileSync(join(root, 'big.png'), '');
    truncateSync(join(root, 'big.png'), BIG_BYTES);
    server = await startServer({ env: { RESOURCES_DIR: root } });
  });
  after(async () => {
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  test('a folder serves its index.html; without the slash it redirects to it', async () => {
    const response = await request(server.port, get('/docs/', server.port));
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(response.body.toString(), /<title>docs<\/title>/);
    const redirect = await request(server.port, get('/docs?x=1', server.port));
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, '/docs/?x=1', 'the query comes along');
    // What a URI query cannot hold is percent-encoded (RFC 3986 §3.4); escapes and sub-delims stay as sent.
    const odd = await request(server.port, get('/docs?"><x>&a=%41&b=%zz|{}^`\\!$\'()*+,;=:@/?', server.port));
    assert.equal(odd.status, 301);
    assert.equal(odd.headers.location, "/docs/?%22%3E%3Cx%3E&a=%41&b=%25zz%7C%7B%7D%5E%60%5C!$'()*+,;=:@/?");
  });

  test('a folder without index.html is 404, never a listing', async () => {
    for (const path of ['/empty/', '/empty']) {
      assertErrorPage(await request(server.port, get(path, server.port)), 404, 'Not Found');
    }
  });

  test('.htm is shown inline; .jpeg and .json are downloads', async () => {
    const page = await request(server.port, get('/page.htm', server.port));
    assert.equal(page.status, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    for (const name of ['picture.jpeg', 'doc.json']) {
      const response = await request(server.port, get(`/${name}`, server.port));
      assert.equal(response.status, 200, name);
      assert.equal(response.headers['content-type'], 'application/octet-stream');
      assert.equal(response.headers['content-disposition'], `attachment; filename="${name}"`);
    }
  });

  test('a file name that is not plain ASCII gets an RFC 6266 filename* form', async () => {
    const response = await request(server.port, get('/r%C3%A9sum%C3%A9.txt', server.port));
    assert.equal(response.status, 200);
    assert.equal(response.body.toString(), 'accents\n');
    assert.equal(response.headers['content-disposition'], `attachment; filename="resume.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt`);
  });

  test('other file types are 415', async () => {
    for (const path of ['/style.css', '/setup.exe']) {
      assertErrorPage(await request(server.port, get(path, server.port)), 415, 'Unsupported Media Type');
    }
  });

  test('hidden files are 403 and logged at warn', async () => {
    assertErrorPage(await request(server.port, get('/.hidden.txt', server.port)), 403, 'Forbidden');
    const line = await server.waitForLog((l) => l.level === 'warn' && l.target === '/.hidden.txt');
    assert.equal(line.client, '127.0.0.1');
    assert.deepEqual([line.reason, line.detail], ['hidden_file', 'hidden file']);
  });

  test('a stat that fails is never a 500: a sibling name too long, a sibling or an index that loops', async () => {
    const long = await request(server.port, get(`/${'n'.repeat(248)}.html`, server.port, 'Accept-Encoding: br, gzip\r\n'));
    assert.equal(long.status, 200);
    assert.match(long.body.toString(), /<title>long<\/title>/);
    const loop = await request(server.port, get('/loop.html', server.port, 'Accept-Encoding: br\r\n'));
    assert.equal(loop.status, 200);
    assert.equal(loop.headers['content-encoding'], undefined);
    assertErrorPage(await request(server.port, get('/dloop', server.port)), 404, 'Not Found');
  });

  test('POST to a folder is 405 like POST to its page, never a redirect a client might follow with GET', async () => {
    for (const path of ['/docs', '/docs/']) {
      const response = await request(server.port, `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`);
      assertErrorPage(response, 405, 'Method Not Allowed');
      assert.equal(response.headers.allow, 'GET, HEAD, OPTIONS');
    }
  });

  test('a link to a hidden file or folder is 403, like the hidden name itself', async () => {
    // A name that is not there behind the link is refused alike.
    for (const path of ['/public.txt', '/shown/', '/shown/index.html', '/shown/missing.html']) {
      const response = await request(server.port, get(path, server.port));
      assertErrorPage(response, 403, 'Forbidden');
      const line = await server.waitForLog((l) => l.level === 'warn' && l.target === path);
      assert.deepEqual([line.reason, line.detail], ['hidden_file', 'path resolves to a hidden file or folder']);
    }
  });

  test('Last-Modified is never later than Date, even for a file stamped ahead of the clock (RFC 9110 §8.8.2.1)', async () => {
    const response = await request(server.port, get('/future.txt', server.port));
    assert.equal(response.status, 200);
    const date = Date.parse(response.headers.date!);
    const modified = Date.parse(response.headers['last-modified']!);
    assert.ok(modified <= date, `Last-Modified ${response.headers['last-modified']} after Date ${response.headers.date}`);
    // Its own date does not make a later request's validator match.
    const again = await request(server.port, get('/future.txt', server.port, `If-Modified-Since: ${response.headers['last-modified']}\r\n`));
    assert.equal(again.status, 200);
  });

  test("a server's configuration and log files are 415, though mime-types counts them as text; its other text extensions are downloads", async () => {
    for (const path of ['/server.log', '/app.conf']) assertErrorPage(await request(server.port, get(path, server.port)), 415, 'Unsupported Media Type');
    const text = await request(server.port, get('/notes.text', server.port));
    assert.equal(text.status, 200);
    assert.equal(text.headers['content-disposition'], 'attachment; filename="notes.text"');
  });

  test('a symbolic link that stays inside the root is served', async () => {
    const response = await request(server.port, get('/inside-link.txt', server.port));
    assert.equal(response.status, 200);
    assert.equal(response.body.toString(), 'notes\n');
  });

  test('symbolic links leading outside the root are 403 and logged at warn', async () => {
    // A name that does not exist out there is refused alike: the answer tells nothing of what is there.
    for (const path of ['/escape.txt', '/escape-dir/secret.txt', '/escape-dir/no-such-file.txt', '/escape-dir/no/such/folder.txt']) {
      const response = await request(server.port, get(path, server.port));
      assertErrorPage(response, 403, 'Forbidden');
      assert.doesNotMatch(response.body.toString(), /not for the web/);
      const line = await server.waitForLog((l) => l.level === 'warn' && l.target === path);
      assert.equal(line.client, '127.0.0.1');
      assert.deepEqual([line.reason, line.detail], ['outside_root', 'path resolves outside the document root']);
    }
  });

  test('a client that half-closes during a long download gets the rest, the last response saying close', async () => {
    // The FIN arrives long before 256 MiB are through, so the server knows it is closing
    // when it writes the second response.
    const { first, last, total } = await halfCloseExchange(server.port, get('/big.png', server.port) + get('/notes.txt', server.port));
    const [big] = parseResponses(first, 1).responses;
    assert.equal(big!.status, 200);
    assert.equal(Number(big!.headers['content-length']), BIG_BYTES);
    const [notes] = parseResponses(last.subarray(last.lastIndexOf('HTTP/1.1 '))).responses;
    assert.equal(notes!.status, 200);
    assert.equal(notes!.body.toString(), 'notes\n');
    assert.equal(notes!.headers.connection, 'close');
    assert.equal(total, first.indexOf('\r\n\r\n') + 4 + BIG_BYTES + last.length - last.lastIndexOf('HTTP/1.1 '));
  });

  test('streaming a 256 MiB file to a slow reader keeps the server RSS growth under 64 MiB', async () => {
    // Warm up the file path first, so the baseline includes what any download needs.
    assert.equal((await request(server.port, get('/notes.txt', server.port))).status, 200);
    const baseline = rssBytes(server.process.pid!);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(server.process.pid!))), 20);
    try {
      const { status, bodyBytes, allZero } = await slowDownload(server.port, '/big.png');
      assert.equal(status, 200);
      assert.equal(bodyBytes, BIG_BYTES);
      assert.ok(allZero, 'the sparse file reads as zeros');
    } finally {
      clearInterval(sampler);
    }
    const growth = peak - baseline;
    assert.ok(growth < 64 * 1024 * 1024, `RSS grew by ${(growth / 1048576).toFixed(1)} MiB`);
  });
});

/** Sends `bytes`, half-closes, and keeps the first and last 4 KiB of what comes back until the close. */
function halfCloseExchange(port: number, bytes: string): Promise<{ first: Buffer; last: Buffer; total: number }> {
  const KEEP = 4096;
  return new Promise((resolve, reject) => {
    let first = Buffer.alloc(0);
    let last = Buffer.alloc(0);
    let total = 0;
    const socket = connect({ port, host: '127.0.0.1' }, () => socket.end(bytes, 'latin1'));
    socket.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (first.length < KEEP) first = Buffer.concat([first, chunk.subarray(0, KEEP - first.length)]);
      last = Buffer.concat([last, chunk]);
      if (last.length > KEEP) last = last.subarray(last.length - KEEP);
    });
    socket.on('error', reject);
    socket.on('close', () => resolve({ first, last, total }));
  });
}

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'));
  assert.ok(match !== null, 'VmRSS readable');
  return Number(match[1]) * 1024;
}

/**
 * GETs `path` and reads the body slowly (a pause after every 2 MiB), counting bytes instead
 * of keeping them, so the server has to honour backpressure.
 */
function slowDownload(port: number, path: string): Promise<{ status: number; bodyBytes: number; allZero: boolean }> {
  const zeros = Buffer.alloc(64 * 1024);
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => socket.write(get(path, port, 'Connection: close\r\n')));
    let head = Buffer.alloc(0);
    let status = 0;
    let bodyBytes = 0;
    let allZero = true;
    let sincePause = 0;
    const countBody = (chunk: Buffer): void => {
      bodyBytes += chunk.length;
      for (let at = 0; at < chunk.length && allZero; at += zeros.length) {
        const part = chunk.subarray(at, at + zeros.length);
        allZero = part.equals(zeros.subarray(0, part.length));
      }
      sincePause += chunk.length;
      if (sincePause >= 2 * 1024 * 1024) {
        sincePause = 0;
        socket.pause();
        setTimeout(() => socket.resume(), 10);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      if (status !== 0) return countBody(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      status = Number(head.toString('latin1', 0, end).split(' ')[1]);
      countBody(head.subarray(end + 4));
    });
    socket.on('error', reject);
    socket.on('close', () => resolve({ status, bodyBytes, allZero }));
  });
}

describe('a FIFO in the document root', () => {
  let root: string;
  let fifo: string;
  let server: StartedServer;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'rawhttp-fifo-'));
    writeFileSync(join(root, 'index.html'), '<!DOCTYPE html><title>root</title>\n');
    // A name the server shows, so the request gets as far as opening it.
    fifo = join(root, 'pipe.html');
    renameSync(makeFifo(root), fifo);
    // One worker: an open that blocked on the FIFO would hold it, and every request after, until the job timeout.
    server = await startServer({ env: { RESOURCES_DIR: root, MAX_THREADS: '1', JOB_TIMEOUT_MS: '3000' } });
  });
  after(async () => {
    // A worker blocked opening it (the fault this guards against) is let go, so the server can stop.
    releaseFifo(fifo);
    await server?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  test('is 404 like a missing file, at once, and the only worker serves on', async () => {
    assertErrorPage(await request(server.port, get('/pipe.html', server.port)), 404, 'Not Found');
    const page = await request(server.port, get('/index.html', server.port));
    assert.equal(page.status, 200);
    assert.match(page.body.toString(), /<title>root<\/title>/);
  });
});
