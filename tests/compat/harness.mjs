// Starts a real Kith for a test file: the binary cargo built (KITH_BIN, default target/debug/kith), its own
// embedded PostgreSQL in a temporary data directory, a free loopback port. Stops it (SIGTERM) when done.
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { spawn, execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(import.meta.dirname, '../..');
export const KITH_BIN = process.env.KITH_BIN ?? join(repo, 'target/debug/kith');
export const JWT_SECRET = 'compat-suite-secret-0123456789-abcdefghijklmnop';

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

/** Starts Kith; `env` adds settings. Returns { url, anonKey, serviceKey, dataDir, outbox(), stop() }. */
export async function startKith(env = {}) {
  // Under /tmp: as root, the embedded PostgreSQL runs as an unprivileged user who must reach the directory.
  const scratch = mkdtempSync(join(tmpdir(), 'kith-compat-'));
  chmodSync(scratch, 0o755);
  const dataDir = join(scratch, 'data');
  const port = await freePort();
  const settings = {
    PATH: process.env.PATH,
    KITH_DATA_DIR: dataDir,
    KITH_BIND: `127.0.0.1:${port}`,
    // Suites run side by side: the admin listener (/metrics) takes any free port.
    KITH_ADMIN_BIND: '127.0.0.1:0',
    KITH_JWT_SECRET: JWT_SECRET,
    KITH_LOG_FORMAT: 'json',
    // Every test signs in from 127.0.0.1; the limits themselves are tested in the Rust suite.
    KITH_AUTH_RATE_LIMIT_IP: '100000',
    KITH_AUTH_RATE_LIMIT_EMAIL: '100000',
    RUST_LOG: process.env.RUST_LOG ?? 'info',
    ...env,
  };
  const log = openSync(join(scratch, 'kith.log'), 'a');
  const child = spawn(KITH_BIN, ['serve'], { env: settings, stdio: ['ignore', log, log] });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`kith exited during start-up:\n${readFileSync(join(scratch, 'kith.log'), 'utf8')}`);
    }
    try {
      const response = await fetch(`${url}/ready`);
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('kith did not become ready in 90 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  const keys = execFileSync(KITH_BIN, ['keys'], { env: settings, encoding: 'utf8' });
  const anonKey = keys.match(/^anon key:\s+(\S+)/m)[1];
  const serviceKey = keys.match(/^service_role key:\s+(\S+)/m)[1];
  return {
    url,
    anonKey,
    serviceKey,
    dataDir,
    /** Messages the mailer wrote to the outbox, oldest first, as parsed JSON. */
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
    /** Runs a kith subcommand against this server's data directory. */
    cli(args) {
      return execFileSync(KITH_BIN, args, { env: settings, encoding: 'utf8' });
    },
    log() {
      return readFileSync(join(scratch, 'kith.log'), 'utf8');
    },
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

/** A supabase-js client for `kith` with `key`, as a server-side route would make one (no session storage). */
export function client(kith, key = kith.anonKey, options = {}) {
  return createClient(kith.url, key, {
    ...options,
    auth: { persistSession: false, autoRefreshToken: false, ...options.auth },
    // Node 20 has no global WebSocket; realtime is not used, but the client constructs it.
    realtime: { transport: WebSocket, ...options.realtime },
  });
}
