/*
 * Page weight: loading the app (log-in, then a channel) fetches under 200 KB of
 * JavaScript and CSS. Features used now and then (settings, the emoji picker and its
 * list, profiles, invites) are loaded when first used, not with the page.
 */
import { describe, it, before, after } from 'node:test';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Server, launch, openPage, closePages, assert, REPO } from './harness.mjs';

const BUDGET = 200 * 1024;

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('page weight', () => {
  let server, browser, page;
  const sizes = new Map();

  before(async () => {
    server = await new Server().start();
    browser = await launch();
  });

  after(async () => {
    await closePages(page);
    await browser?.close();
    await server?.stop();
  });

  it(`loads under ${BUDGET / 1024} KB of JavaScript and CSS`, async () => {
    const alice = await server.register('alice');
    const guild = await server.ok('POST', '/guilds', alice.token, { name: 'Light' });
    await server.ok('POST', `/channels/${guild.system_channel_id}/messages`, alice.token, { content: 'hello' });
    const context = await browser.newContext();
    page = await context.newPage();
    page.consoleErrors = [];
    page.on('console', (m) => m.type() === 'error' && page.consoleErrors.push(m.text()));
    page.on('response', (r) => {
      const type = r.request().resourceType();
      if (type !== 'script' && type !== 'stylesheet') return;
      const n = Number(r.headers()['content-length'] || 0);
      sizes.set(r.url(), Math.max(n, sizes.get(r.url()) || 0));
    });
    await page.goto(`${server.url}/login`);
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByLabel('Password').press('Enter');
    // Logged in (the token stored) before going on: a slow log-in (ASan) lost the race.
    await page.waitForURL((u) => !u.pathname.startsWith('/login'), { timeout: 30000 });
    await page.goto(`${server.url}/channels/${guild.id}/${guild.system_channel_id}`);
    await page.locator('.msg', { hasText: 'hello' }).waitFor();
    await page.waitForLoadState('networkidle');
    const total = [...sizes.values()].reduce((a, b) => a + b, 0);
    console.log(`page weight: ${total} bytes of JS and CSS in ${sizes.size} files`);
    assert.ok(sizes.size >= 10, 'the modules were counted');
    assert.ok(total < BUDGET, `${total} bytes of JS and CSS loaded`);
  });

  it('leaves rarely used features to load on first use', async () => {
    const loaded = [...sizes.keys()].map((u) => new URL(u).pathname);
    for (const lazy of ['/js/views/settings.js', '/js/views/emoji.js', '/js/emoji-data.js', '/js/views/profile.js', '/js/views/invite.js', '/js/views/search.js']) {
      assert.ok(!loaded.includes(lazy), `${lazy} was loaded with the page`);
    }
    // ...and they do load when used: the emoji picker brings its list.
    await page.getByRole('button', { name: 'Insert emoji' }).click();
    await page.getByRole('dialog', { name: 'Emoji picker' }).waitFor();
    await page.waitForFunction(() => document.querySelectorAll('.emoji-cell').length > 1000);
    assert.ok(sizes.has(`${server.url}/js/emoji-data.js`));
    await page.keyboard.type('grinning');
    await page.keyboard.press('Enter');
    assert.equal(await page.locator('#composer-input').inputValue(), '😀');
    const files = filesUnder(join(REPO, 'web')).filter((f) => /\.(m?js|css)$/.test(f));
    console.log(`on disk: ${files.reduce((n, f) => n + statSync(f).size, 0)} bytes of JS and CSS in ${files.length} files`);
  });
});
