// Cross-origin uploads in a real browser: headless Chromium loads a page from a second
// origin (a small node:http server on another loopback port) whose script posts JSON to
// /upload with fetch and a bearer token. The listed origin's upload is stored and its answer
// readable; an origin not listed is stopped by the browser at the preflight, so nothing of
// its upload reaches the server.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { waitFor } from '../fixtures/probes.js';
import { startServer, type StartedServer } from '../helpers/server.js';
import { launchChromium, SKIP_WITHOUT_CHROMIUM } from '../helpers/tools.js';

const SKIP = SKIP_WITHOUT_CHROMIUM;
const TOKEN = 'browser-token-Xy7';

let pages: Server;
let pagePort: number;
let server: StartedServer;
let browser: Browser;

/** What the page's fetch saw: the answer's status and the fields a script may read, or the error. */
type FetchResult = { readonly status: number; readonly location: string | null; readonly challenge: string | null; readonly traceId: string | null; readonly body: string } | { readonly error: string };

before(async () => {
  if (SKIP !== false) return;
  // One page for both origins: http://127.0.0.1:<port> is listed, http://localhost:<port> is not.
  pages = createServer((_request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    response.end('<!DOCTYPE html><title>uploader</title><p>uploads to another origin</p>');
  });
  await new Promise<void>((resolve) => pages.listen(0, '127.0.0.1', resolve));
  pagePort = (pages.address() as AddressInfo).port;
  server = await startServer({ env: { CORS_ORIGINS: `http://127.0.0.1:${pagePort}`, UPLOAD_TOKENS: TOKEN } });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  await new Promise((resolve) => (pages?.listening ? pages.close(resolve) : resolve(undefined)));
});

/** Requests of `method` in the server's access log (each line is written once its answer has been). */
function logged(method: string): number {
  return server.logs.filter((line) => line.msg === 'request' && line.method === method).length;
}

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';

/** Opens the page at `origin` and runs its upload: fetch POST /upload with JSON, a W3C traceparent (as a traced page sends) and, when given, the token. */
async function uploadFrom(origin: string, token: string | null): Promise<FetchResult> {
  const page: Page = await browser.newPage();
  try {
    await page.goto(`${origin}/`);
    return await page.evaluate(
      async ({ url, token, from, traceId }) => {
        const headers: Record<string, string> = { 'Content-Type': 'application/json', traceparent: `00-${traceId}-b7ad6b7169203331-01` };
        if (token !== null) headers.Authorization = `Bearer ${token}`;
        try {
          const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ from }) });
          return { status: response.status, location: response.headers.get('Location'), challenge: response.headers.get('WWW-Authenticate'), traceId: response.headers.get('X-Trace-Id'), body: await response.text() };
        } catch (error) {
          return { error: String(error) };
        }
      },
      { url: `http://127.0.0.1:${server.port}/upload`, token, from: origin, traceId: TRACE_ID },
    );
  } finally {
    await page.close();
  }
}

test('a page from a listed origin uploads with its token and reads the answer', { skip: SKIP }, async () => {
  const stored = await uploadFrom(`http://127.0.0.1:${pagePort}`, TOKEN);
  assert.ok('status' in stored, JSON.stringify(stored));
  assert.equal(stored.status, 201);
  assert.match(stored.location ?? '', /^\/uploads\/.+\.json$/, 'Location is exposed to the script');
  assert.equal(stored.traceId, TRACE_ID, 'the page\'s trace goes on, and its id is exposed to the script');
  assert.equal(readdirSync(server.uploadsDir).filter((name) => name.endsWith('.json')).length, 1);

  const refused = await uploadFrom(`http://127.0.0.1:${pagePort}`, null);
  assert.ok('status' in refused, JSON.stringify(refused));
  assert.equal(refused.status, 401, 'the refusal is readable too');
  assert.equal(refused.challenge, 'Bearer realm="rawhttp"');
  // The log line may trail the answer the page read: the next test counts from both.
  await waitFor(() => logged('POST') === 2, 'both uploads in the access log');
});

test('a page from an origin not listed is stopped by the browser: its upload never reaches the server', { skip: SKIP }, async () => {
  const postsBefore = logged('POST');
  const preflightsBefore = logged('OPTIONS');
  const blocked = await uploadFrom(`http://localhost:${pagePort}`, TOKEN);
  assert.ok('error' in blocked, `the fetch should fail, got ${JSON.stringify(blocked)}`);
  assert.match(blocked.error, /TypeError/);
  await waitFor(() => logged('OPTIONS') > preflightsBefore, 'the preflight in the access log');
  assert.equal(logged('POST'), postsBefore, 'the browser never sent the POST');
  assert.equal(readdirSync(server.uploadsDir).filter((name) => name.endsWith('.json')).length, 1);
});
