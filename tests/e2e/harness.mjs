// Starts a real `kith serve --demo` for the end-to-end suite (the binary cargo built, KITH_BIN; its own embedded
// PostgreSQL in a temporary data directory; a free loopback port), reads the URL and demo credentials it prints,
// and launches Debian's headless Chromium (CHROMIUM_BIN) through playwright-core.
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../..');
export const KITH_BIN = process.env.KITH_BIN ?? join(repo, 'target/debug/kith');
export const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium-headless-shell';
export const SHOTS = join(repo, 'target/e2e');
export const AXE_SOURCE = readFileSync(join(import.meta.dirname, 'node_modules/axe-core/axe.min.js'), 'utf8');

if (Number(process.versions.node.split('.')[0]) < 20) {
  throw new Error(`the end-to-end suite needs Node.js 20 or newer, found ${process.version}`);
}

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
    server.on('error', fail);
  });
}

/** Starts Kith with demo data. Returns { url, users: [{email, password}], outbox(), stop() }. */
export async function startKith() {
  // Under /tmp: as root, the embedded PostgreSQL runs as an unprivileged user who must reach the directory.
  const scratch = mkdtempSync(join(tmpdir(), 'kith-e2e-'));
  chmodSync(scratch, 0o755);
  const dataDir = join(scratch, 'data');
  const port = await freePort();
  const env = {
    PATH: process.env.PATH,
    KITH_DATA_DIR: dataDir,
    KITH_BIND: `127.0.0.1:${port}`,
    KITH_JWT_SECRET: 'e2e-suite-secret-0123456789-abcdefghijklmnopq',
    KITH_LOG_FORMAT: 'json',
    KITH_AUTH_RATE_LIMIT_IP: '100000',
    KITH_AUTH_RATE_LIMIT_EMAIL: '100000',
    RUST_LOG: process.env.RUST_LOG ?? 'info',
  };
  const out = join(scratch, 'stdout.txt');
  const log = join(scratch, 'kith.log');
  const child = spawn(KITH_BIN, ['serve', '--demo'], { env, stdio: ['ignore', openSync(out, 'a'), openSync(log, 'a')] });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`kith exited during start-up:\n${readFileSync(log, 'utf8')}`);
    }
    try {
      if ((await fetch(`${url}/ready`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('kith did not become ready in 120 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const printed = readFileSync(out, 'utf8');
  const users = [...printed.matchAll(/^ {2}user (\S+) {2}password (\S+)$/gm)].map((m) => ({ email: m[1], password: m[2] }));
  const opened = printed.match(/^open (\S+) in a browser/m)?.[1];
  return {
    url,
    users,
    opened,
    printed,
    outbox() {
      const dir = join(dataDir, 'outbox');
      let files = [];
      try {
        files = readdirSync(dir).sort();
      } catch {
        return [];
      }
      return files.map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
    },
    log: () => readFileSync(log, 'utf8'),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/** Launches headless Chromium. */
export async function launch() {
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM_BIN, headless: true });
}

/**
 * A browser context whose pages record every console error, page error, failed request and CSP violation
 * into `problems` (the test asserts it stays empty).
 */
export async function watchedContext(browser, baseURL, problems, options = {}) {
  const context = await browser.newContext({ baseURL, ...options });
  context.on('page', (page) => watch(page, problems));
  return context;
}

function watch(page, problems) {
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    // A page answered with a deliberate 4xx (the 404 page, a refused sign-in) is reported by Chromium as a failed
    // load of the document itself; failed subresources are caught by the response handler below.
    const documentStatus = msg.text().startsWith('Failed to load resource') && msg.location().url === page.url();
    if (!documentStatus) problems.push(`console error on ${page.url()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`page error on ${page.url()}: ${err.message}`));
  page.on('requestfailed', (req) => {
    problems.push(`request failed: ${req.method()} ${req.url()}: ${req.failure()?.errorText}`);
  });
  page.on('response', (res) => {
    const type = res.request().resourceType();
    if (type !== 'document' && res.status() >= 400) problems.push(`${res.status()} for ${type} ${res.url()}`);
  });
}

/** Screenshots of the page in light and in dark mode: target/e2e/<name>-light.png and -dark.png. */
export async function shoot(page, name) {
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.screenshot({ path: join(SHOTS, `${name}-${scheme}.png`), fullPage: true });
  }
  await page.emulateMedia({ colorScheme: 'light' });
}
