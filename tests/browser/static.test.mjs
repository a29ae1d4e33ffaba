/*
 * hearthd serving the web client's files (spec/web-client.md §2): index.html for / and
 * for the client's own routes, content types, caching with ETag, and no way out of the web
 * root: "..", encoded "..", hidden files, symbolic links and non-regular files refused.
 */
import { describe, it, before, after } from 'node:test';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, assert, REPO } from './harness.mjs';

/* A raw GET (fetch would normalise "..") returning {status, headers, body}. */
function raw(server, path, { method = 'GET', headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('serving the web client', () => {
  let server, custom, root, outside;

  before(async () => {
    server = await new Server().start();
    // A web root of our own, with a secret beside it and links pointing out of it.
    const base = mkdtempSync(join(tmpdir(), 'hearth-webroot-'));
    root = join(base, 'web');
    outside = join(base, 'secret.txt');
    mkdirSync(join(root, 'js'), { recursive: true });
    mkdirSync(join(root, 'dir'));
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>custom</title>');
    writeFileSync(join(root, 'js', 'a.js'), 'export const a = 1;\n');
    writeFileSync(join(root, '.hidden'), 'hidden');
    writeFileSync(join(root, 'data.bin'), 'bin');
    writeFileSync(outside, 'secret');
    symlinkSync(outside, join(root, 'link.txt'));
    symlinkSync(base, join(root, 'up'));
    custom = await new Server(['--web-dir', root]).start();
  });

  after(async () => {
    await server?.stop();
    await custom?.stop();
    if (root) rmSync(join(root, '..'), { recursive: true, force: true });
  });

  it('serves index.html at / and for the client routes, with a content security policy', async () => {
    const index = readFileSync(join(REPO, 'web', 'index.html'), 'utf8');
    for (const path of ['/', '/login', '/register', '/channels/@me', '/channels/1/2', '/channels/1/2/3', '/invite/AbCd123']) {
      const r = await raw(server, path);
      assert.equal(r.status, 200, path);
      assert.equal(r.body, index, path);
      assert.equal(r.headers['content-type'], 'text/html; charset=utf-8');
      assert.match(r.headers['content-security-policy'], /default-src 'self'/);
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
    }
  });

  it('serves files with their content types and revalidates them with an ETag', async () => {
    const types = { '/css/app.css': 'text/css; charset=utf-8', '/js/main.js': 'text/javascript; charset=utf-8', '/img/hearth.svg': 'image/svg+xml' };
    for (const [path, type] of Object.entries(types)) {
      const r = await raw(server, path);
      assert.equal(r.status, 200, path);
      assert.equal(r.headers['content-type'], type);
      assert.equal(r.body, readFileSync(join(REPO, 'web', path), 'utf8'));
      assert.equal(r.headers['cache-control'], 'no-cache');
      const again = await raw(server, path, { headers: { 'If-None-Match': r.headers.etag } });
      assert.equal(again.status, 304);
      assert.equal(again.body, '');
      const stale = await raw(server, path, { headers: { 'If-None-Match': '"0-0"' } });
      assert.equal(stale.status, 200);
    }
    const head = await raw(server, '/js/main.js', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(Number(head.headers['content-length']), readFileSync(join(REPO, 'web', 'js', 'main.js')).length);
  });

  it('answers 404 for what is not there, 405 for other methods; the API is untouched', async () => {
    assert.equal((await raw(server, '/nope.js')).status, 404);
    assert.equal((await raw(server, '/js/')).status, 404);
    assert.equal((await raw(server, '/js')).status, 404);
    assert.equal((await raw(server, '/', { method: 'POST' })).status, 405);
    assert.equal((await raw(server, '/api/v10/users/@me')).status, 401);
    assert.equal((await raw(server, '/healthz')).status, 200);
  });

  it('never leaves the web root', async () => {
    for (const path of ['/../CMakeLists.txt', '/js/../../CMakeLists.txt', '/%2e%2e/CMakeLists.txt', '/js/%2E%2E/%2E%2E/CMakeLists.txt', '/./index.html', '//etc/passwd', '/js//main.js', '/.git/config', '/js\\..\\..\\CMakeLists.txt']) {
      const r = await raw(server, path);
      assert.equal(r.status, 404, path);
    }
  });

  it('serves a configured web-dir, refusing hidden files, symbolic links and directories', async () => {
    const r = await raw(custom, '/');
    assert.equal(r.body, '<!doctype html><title>custom</title>');
    assert.equal((await raw(custom, '/channels/9/9')).body, r.body);
    assert.equal((await raw(custom, '/js/a.js')).body, 'export const a = 1;\n');
    assert.equal((await raw(custom, '/data.bin')).headers['content-type'], 'application/octet-stream');
    for (const path of ['/.hidden', '/link.txt', '/up/secret.txt', '/up/web/index.html', '/dir', '/../secret.txt']) {
      const x = await raw(custom, path);
      assert.equal(x.status, 404, path);
      assert.ok(!x.body.includes('secret'), path);
    }
  });
});
