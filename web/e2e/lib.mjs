// Shared pieces of the end-to-end tests and the benchmark: start a real Tributary server on a
// free port with a fresh SQLite file, serve the built UI, load events, drive headless Chromium.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DIST = path.join(WEB_DIR, 'dist');

export function serverBinary() {
  if (process.env.TRIBUTARY_BIN) return process.env.TRIBUTARY_BIN;
  const target = process.env.CARGO_TARGET_DIR || '/root/.cache/tributary-target';
  return path.join(target, 'debug', 'tributary');
}

export function sharedDir() {
  return process.env.TRIBUTARY_SHARED_DIR || path.resolve(WEB_DIR, '..', '..', 'shared');
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitReady(base, child, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the server exited with code ${child.exitCode}`);
    try {
      const res = await fetch(`${base}/readyz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the server did not become ready within ${timeoutMs} ms`);
}

/** Starts `tributary serve` on a free port with a fresh database; `stop()` kills it. */
export async function startServer({ tmp, env = {} }) {
  const bin = serverBinary();
  if (!fs.existsSync(bin)) throw new Error(`no server binary at ${bin} (set TRIBUTARY_BIN)`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const log = fs.openSync(path.join(tmp, 'server.log'), 'w');
  const child = spawn(bin, ['serve'], {
    env: {
      ...process.env,
      TRIBUTARY_BIND: `127.0.0.1:${port}`,
      TRIBUTARY_DATABASE_URL: `sqlite://${path.join(tmp, 't.db')}`,
      ...env,
    },
    stdio: ['ignore', log, log],
  });
  await waitReady(base, child);
  return {
    base,
    logFile: path.join(tmp, 'server.log'),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

/**
 * Where the UI is: the server itself when it serves the bundle at `/`, otherwise a small static
 * server over web/dist that falls back to index.html and passes /api on to the server.
 */
export async function uiBase(apiBase) {
  try {
    const res = await fetch(`${apiBase}/lineage?nodeId=x`);
    const text = await res.text();
    if (res.ok && text.includes('id="root"')) return { base: apiBase, own: false, stop: async () => {} };
  } catch {
    // fall through
  }
  const api = new URL(apiBase);
  const srv = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname.startsWith('/api/') || url.pathname === '/readyz' || url.pathname === '/healthz') {
      const up = http.request(
        { host: api.hostname, port: api.port, path: req.url, method: req.method, headers: req.headers },
        (r) => {
          res.writeHead(r.statusCode, r.headers);
          r.pipe(res);
        },
      );
      up.on('error', (e) => {
        res.writeHead(502);
        res.end(String(e));
      });
      req.pipe(up);
      return;
    }
    let file = path.join(DIST, decodeURIComponent(url.pathname));
    if (!file.startsWith(DIST) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) file = path.join(DIST, 'index.html');
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  const port = await freePort();
  await new Promise((r) => srv.listen(port, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${port}`, own: true, stop: () => new Promise((r) => srv.close(r)) };
}

function jsonFiles(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...jsonFiles(p));
    else if (e.name.endsWith('.json')) out.push(p);
  }
  return out;
}

/** Sends events (one object or an array) to the server; throws on any refusal. */
export async function postEvents(base, events, key = null) {
  const batch = Array.isArray(events);
  const res = await fetch(`${base}/api/v1/lineage${batch ? '/batch' : ''}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(key ? { Authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify(events),
  });
  if (!res.ok) throw new Error(`POST ${batch ? 'batch' : 'event'}: ${res.status} ${await res.text()}`);
}

/** Loads every JSON file under a folder (recursively). Returns how many files were sent. */
export async function loadCorpus(base, dir) {
  const files = jsonFiles(dir);
  for (const f of files) {
    try {
      await postEvents(base, JSON.parse(fs.readFileSync(f, 'utf8')));
    } catch (e) {
      throw new Error(`${path.relative(dir, f)}: ${e.message}`);
    }
  }
  return files.length;
}

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

/** Headless Debian Chromium with a fresh profile, at a laptop's screen size. */
export async function launchBrowser(tmp) {
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  const ctx = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(tmp, 'profile-')), {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1366, height: 768 },
    acceptDownloads: true,
  });
  return ctx;
}

export function makeTmp(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Gzipped size of what index.html loads before any lazy chunk: entry script, CSS, preloads. */
export function initialBundle() {
  const html = fs.readFileSync(path.join(DIST, 'index.html'), 'utf8');
  const refs = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]);
  const files = [...new Set(refs)];
  const gz = (f) => zlib.gzipSync(fs.readFileSync(path.join(DIST, f)), { level: 9 }).length;
  const initial = files.reduce((n, f) => n + gz(f), 0) + zlib.gzipSync(html, { level: 9 }).length;
  const all = fs
    .readdirSync(path.join(DIST, 'assets'))
    .filter((f) => /\.(js|css)$/.test(f))
    .reduce((n, f) => n + gz(`assets/${f}`), 0);
  return { initial, all, files };
}
