// A real browser against the real server: headless Chromium renders the home page, follows a
// link, and downloads a file that must be byte-identical to the original.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { REPO_ROOT, RESOURCES_DIR, startServer, type StartedServer } from '../helpers/server.js';
import { launchChromium, SKIP_WITHOUT_CHROMIUM } from '../helpers/tools.js';

const SKIP = SKIP_WITHOUT_CHROMIUM;
const OUTPUT_DIR = join(REPO_ROOT, 'test-output');
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

let server: StartedServer;
let browser: Browser;
let downloads: string;

before(async () => {
  if (SKIP !== false) return;
  server = await startServer();
  downloads = mkdtempSync(join(tmpdir(), 'rawhttp-browser-'));
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(downloads, { recursive: true, force: true });
});

test('Chromium renders the home page, follows a link and downloads a file intact', { skip: SKIP }, async () => {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  const base = `http://127.0.0.1:${server.port}`;

  const response = await page.goto(`${base}/`);
  assert.equal(response?.status(), 200);
  assert.match(await page.title(), /\S/);
  assert.ok(await page.locator('a[href="/about.html"]').first().isVisible());
  mkdirSync(OUTPUT_DIR, { recursive: true });
  const screenshot = join(OUTPUT_DIR, 'home.png');
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(`# screenshot of / saved to ${screenshot}`);

  await Promise.all([page.waitForURL(`${base}/about.html`), page.locator('a[href="/about.html"]').first().click()]);
  assert.equal(new URL(page.url()).pathname, '/about.html');

  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('a[href="/photo.jpg"]').first().click()]);
  assert.equal(download.suggestedFilename(), 'photo.jpg');
  const saved = join(downloads, 'photo.jpg');
  await download.saveAs(saved);
  assert.equal(sha256(readFileSync(saved)), sha256(readFileSync(join(RESOURCES_DIR, 'photo.jpg'))));
  await context.close();
});
