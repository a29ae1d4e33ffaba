/*
 * Harness for the browser tests: a real hearthd on a free loopback port with a fresh data
 * directory (as tests/e2e/harness.py does), a REST helper for setting things up, Debian's
 * chromium driven by playwright-core, and a watch on every page's console: any console
 * error or uncaught exception fails the test that caused it.
 *
 * Environment: HEARTHD (default <repo>/build/hearthd), HEARTH_BROWSER (default
 * /usr/bin/chromium), HEARTH_SCREENSHOTS=0 to write no screenshots, =docs to refresh
 * docs/screenshots (otherwise they go to build/screenshots).
 */
import { deflateSync } from 'node:zlib';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, mkdirSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = join(HERE, '..', '..');
export const HEARTHD = process.env.HEARTHD || join(REPO, 'build', 'hearthd');
export const PASSWORD = 'correct horse battery';
const SANITIZER = ['ERROR: AddressSanitizer', 'ERROR: LeakSanitizer', 'runtime error:', 'WARNING: ThreadSanitizer'];

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Server {
  constructor(extraArgs = []) {
    this.extraArgs = extraArgs;
    this.dataDir = mkdtempSync(join(tmpdir(), 'hearth-browser-'));
    this.logPath = join(this.dataDir, 'hearthd.log');
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  async start() {
    if (!existsSync(HEARTHD)) throw new Error(`hearthd not found at ${HEARTHD}: build it (make) or set HEARTHD`);
    this.port = await freePort();
    const { openSync } = await import('node:fs');
    const log = openSync(this.logPath, 'a');
    this.proc = spawn(
      HEARTHD,
      ['--data-dir', this.dataDir, '--listen', `127.0.0.1:${this.port}`, '--server-name', 'test.local', '--argon2-ops', '1', '--argon2-mem-kib', '8', ...this.extraArgs],
      { stdio: ['ignore', log, log], env: { ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0', ...process.env } },
    );
    this.exited = new Promise((r) => this.proc.on('exit', (code, sig) => r({ code, sig })));
    const deadline = Date.now() + 20000;
    for (;;) {
      try {
        const r = await fetch(this.url + '/healthz');
        if (r.status === 200) break;
      } catch {
        /* not listening yet */
      }
      if (Date.now() > deadline) throw new Error('hearthd did not become ready:\n' + this.log());
      await sleep(50);
    }
    return this;
  }

  log() {
    try {
      return readFileSync(this.logPath, 'utf8');
    } catch {
      return '';
    }
  }

  signal(sig) {
    this.proc.kill(sig);
  }

  checkLog() {
    const text = this.log();
    for (const m of SANITIZER) assert.ok(!text.includes(m), `sanitizer report in the server log:\n${text.slice(text.indexOf(m) - 200, text.indexOf(m) + 3000)}`);
  }

  async stop() {
    if (!this.proc) return;
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
    const { code } = await this.exited;
    clearTimeout(t);
    this.checkLog();
    assert.equal(code, 0, 'hearthd did not exit cleanly:\n' + this.log().slice(-3000));
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /* A REST call as a user (token) to /api/v10. */
  async api(method, path, token, body) {
    const headers = {};
    if (token) headers.Authorization = token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(`${this.url}/api/v10${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    const data = text ? JSON.parse(text) : null;
    return { status: r.status, data };
  }

  async ok(method, path, token, body) {
    const r = await this.api(method, path, token, body);
    assert.ok(r.status >= 200 && r.status < 300, `${method} ${path} answered ${r.status} ${JSON.stringify(r.data)}`);
    return r.data;
  }

  async register(username, globalName) {
    const body = { username, password: PASSWORD };
    if (globalName) body.global_name = globalName;
    const r = await this.ok('POST', '/auth/register', null, body);
    return { username, token: r.token, id: r.user_id, name: globalName || username };
  }

  /* user joins guild by an invite to its system channel, as a person would. */
  async join(guild, owner, user) {
    const inv = await this.ok('POST', `/channels/${guild.system_channel_id}/invites`, owner.token, {});
    await this.ok('POST', `/invites/${inv.code}`, user.token, {});
  }

  seedMessages(channelId, authorId, count, days) {
    execFileSync('/usr/bin/python3', [join(HERE, 'tools', 'dbseed.py'), join(this.dataDir, 'hearth.db'), 'messages', channelId, authorId, String(count), String(days)]);
  }
}

/* ---- the browser ---- */

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export async function launch() {
  return chromium.launch({
    executablePath: process.env.HEARTH_BROWSER || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/*
 * A page in its own browser context (its own storage: one user), logged in with token
 * when one is given. page.consoleErrors collects console errors and uncaught exceptions;
 * page.expectError(re) allows the next console errors matching re (a test that provokes
 * a 400 on purpose, which the browser reports as "Failed to load resource").
 */
export async function openPage(browser, server, { token, viewport = DESKTOP, path = '/channels/@me', reducedMotion = 'reduce' } = {}) {
  const context = await browser.newContext({ viewport, reducedMotion, deviceScaleFactor: 1 });
  if (token) {
    await context.addInitScript((t) => {
      if (!sessionStorage.getItem('hearth.test-init')) {
        sessionStorage.setItem('hearth.test-init', '1');
        localStorage.setItem('hearth.token', t);
      }
    }, token);
  }
  const page = await context.newPage();
  page.consoleErrors = [];
  page.allowed = [];
  page.always = [];
  page.expectError = (re) => page.allowed.push(re);
  page.allowAlways = (re) => page.always.push(re);
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    if (page.always.some((re) => re.test(text))) return;
    const i = page.allowed.findIndex((re) => re.test(text));
    if (i >= 0) page.allowed.splice(i, 1);
    else page.consoleErrors.push(text);
  });
  page.on('pageerror', (e) => page.consoleErrors.push('uncaught: ' + e.message));
  page.setDefaultTimeout(10000);
  await page.goto(server.url + path);
  return page;
}

/* Asserts no console errors on the pages, then closes their contexts. */
export async function closePages(...pages) {
  for (const p of pages) {
    if (!p) continue;
    const errors = p.consoleErrors;
    await p.context().close();
    assert.deepEqual(errors, [], 'console errors on the page');
  }
}

/* Waits until the app is connected and shows the given guild channel. */
export async function openChannel(page, guildId, channelId) {
  await page.goto(`${page.url().split('/').slice(0, 3).join('/')}/channels/${guildId}/${channelId}`);
  await page.locator('#composer-input').waitFor();
}

/* Screenshots go to build/screenshots on every run; HEARTH_SCREENSHOTS=docs writes the
 * ones the README shows (docs/screenshots, `make screenshots`), =0 writes none. */
export function screenshotPath(name) {
  const where = process.env.HEARTH_SCREENSHOTS;
  if (where === '0') return null;
  const dir = where === 'docs' ? join(REPO, 'docs', 'screenshots') : join(REPO, 'build', 'screenshots');
  mkdirSync(dir, { recursive: true });
  return join(dir, name + '.png');
}

export async function screenshot(page, name) {
  const path = screenshotPath(name);
  if (path) await page.screenshot({ path, animations: 'disabled', caret: 'hide' });
}

/* A small solid-colour PNG, W×H (built here: no binary fixture in the tree). */
export function png(w, h, [r, g, b]) {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf) => {
    let c = 0xffffffff;
    for (const x of buf) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const c = Buffer.alloc(4);
    c.writeUInt32BE(crc(td));
    return Buffer.concat([len, td, c]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: w }, () => [r, g, b]).flat())]);
  const raw = Buffer.concat(Array.from({ length: h }, () => row));
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

export { sleep, assert };
