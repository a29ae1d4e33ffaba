/*
 * Accessibility: landmarks, the live region that reads new messages, operation with the
 * keyboard alone, focus handling of menus and dialogs, and text contrast.
 */
import { describe, it, before, after } from 'node:test';
import { Server, launch, openPage, closePages, openChannel, screenshot, assert } from './harness.mjs';

/* Every visible text's contrast against the background it is drawn on (WCAG 2). Returns
 * the failures: [{text, ratio, need}]. */
function contrastFailures() {
  const parse = (c) => {
    const m = c.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return { r, g, b, a };
  };
  const lum = ({ r, g, b }) => {
    const f = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const blend = (top, under) => ({
    r: top.r * top.a + under.r * (1 - top.a),
    g: top.g * top.a + under.g * (1 - top.a),
    b: top.b * top.a + under.b * (1 - top.a),
    a: 1,
  });
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0) {
        layers.push(c);
        if (c.a === 1) break;
      }
    }
    let bg = { r: 0, g: 0, b: 0, a: 1 };
    for (const l of layers.reverse()) bg = blend(l, bg);
    return bg;
  };
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!n.textContent.trim() || !el || el.closest('.sr-only, [aria-hidden="true"], .skip:not(:focus)')) continue;
    const rect = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    if (!rect.width || !rect.height || style.visibility === 'hidden' || Number(style.opacity) === 0) continue;
    if (el.closest('button:disabled')) continue; // disabled controls are exempt
    const fg0 = parse(style.color);
    const bg = background(el);
    const fg = blend(fg0, bg);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    const need = large ? 3 : 4.5;
    if (ratio < need - 0.01) out.push({ text: n.textContent.trim().slice(0, 40), ratio: Math.round(ratio * 100) / 100, need });
  }
  return out;
}

describe('accessibility and the keyboard', () => {
  let server, browser, alice, bob, guild, random, pa, pb;

  before(async () => {
    server = await new Server().start();
    browser = await launch();
    alice = await server.register('alice', 'Alice');
    bob = await server.register('bob', 'Bob');
    guild = await server.ok('POST', '/guilds', alice.token, { name: 'Access' });
    random = await server.ok('POST', `/guilds/${guild.id}/channels`, alice.token, { name: 'random' });
    await server.join(guild, alice, bob);
    pa = await openPage(browser, server, { token: alice.token });
    pb = await openPage(browser, server, { token: bob.token });
    await openChannel(pa, guild.id, guild.system_channel_id);
    await openChannel(pb, guild.id, guild.system_channel_id);
  });

  after(async () => {
    await closePages(pa, pb);
    await browser?.close();
    await server?.stop();
  });

  it('has landmarks: the server rail, the channels, the main chat, members, the account', async () => {
    await pa.getByRole('navigation', { name: 'Servers' }).waitFor();
    await pa.getByRole('navigation', { name: 'Channels of Access' }).waitFor();
    assert.equal(await pa.getByRole('main').count(), 1);
    await pa.getByRole('complementary', { name: 'Members' }).waitFor();
    await pa.getByRole('region', { name: 'Your account' }).waitFor();
    await pa.getByRole('search').waitFor();
    await pa.getByRole('form', { name: 'Send a message' }).waitFor();
    assert.equal(await pa.getByRole('heading', { level: 1 }).textContent(), 'general');
    assert.equal(await pa.getByRole('list', { name: 'Messages in #general' }).count(), 1);
    assert.equal(await pa.locator('html').getAttribute('lang'), 'en');
  });

  it('reads new messages from others through a live region', async () => {
    const live = pa.locator('#live');
    assert.equal(await live.getAttribute('aria-live'), 'polite');
    await pb.getByRole('textbox', { name: 'Message #general' }).fill('ping for the **reader**');
    await pb.getByRole('textbox', { name: 'Message #general' }).press('Enter');
    await live.getByText('Bob: ping for the reader').waitFor({ state: 'attached' });
    // Your own messages are not read back to you.
    assert.equal(await pb.locator('#live').getByText('ping for the reader').count(), 0);
  });

  it('works with the keyboard alone: skip link, send, move through messages, edit', async () => {
    await pa.reload();
    await pa.locator('#composer-input').waitFor();
    await pa.locator('body').focus();
    await pa.keyboard.press('Tab');
    assert.equal(await pa.evaluate(() => document.activeElement.textContent), 'Skip to message box');
    await pa.keyboard.press('Enter');
    assert.equal(await pa.evaluate(() => document.activeElement.id), 'composer-input');
    await pa.keyboard.type('typed with keys');
    await pa.keyboard.press('Enter');
    await pa.locator('.msg', { hasText: 'typed with keys' }).waitFor();
    // Shift+Tab past the upload button reaches the newest message; arrows move.
    await pa.keyboard.press('Shift+Tab');
    await pa.keyboard.press('Shift+Tab');
    assert.match(await pa.evaluate(() => document.activeElement.textContent), /typed with keys/);
    await pa.keyboard.press('ArrowUp');
    assert.match(await pa.evaluate(() => document.activeElement.textContent), /ping for the reader/);
    // Tab from a message reaches its actions; Escape goes back to the message box.
    await pa.keyboard.press('Tab');
    assert.equal(await pa.evaluate(() => document.activeElement.closest('[role=toolbar]')?.getAttribute('aria-label')), 'Message actions');
    await pa.keyboard.press('Shift+Tab');
    await pa.keyboard.press('End');
    await pa.keyboard.press('e');
    const edit = pa.getByRole('textbox', { name: 'Edit message' });
    await edit.waitFor();
    assert.equal(await pa.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Edit message');
    await pa.keyboard.press('End');
    await pa.keyboard.type(' and edited');
    await pa.keyboard.press('Enter');
    await pb.locator('.msg', { hasText: 'typed with keys and edited' }).locator('.edited').waitFor();
    assert.equal(await pa.evaluate(() => document.activeElement.id), 'composer-input');
  });

  it('switches channels and servers with Alt+arrows', async () => {
    await pa.keyboard.press('Alt+ArrowDown');
    await pa.getByRole('heading', { level: 1, name: 'random' }).waitFor();
    assert.ok(pa.url().endsWith(`/${random.id}`));
    await pa.keyboard.press('Alt+ArrowUp');
    await pa.getByRole('heading', { level: 1, name: 'general' }).waitFor();
    await pa.keyboard.press('Control+Alt+ArrowUp');
    await pa.getByRole('heading', { level: 1, name: 'Home' }).waitFor();
    await pa.keyboard.press('Control+Alt+ArrowDown');
    await pa.getByRole('heading', { level: 1, name: 'general' }).waitFor();
  });

  it('creates a server with the keyboard alone; dialogs keep and return focus', async () => {
    await pa.reload();
    await pa.locator('#composer-input').waitFor();
    // Skip links, then the rail: one tab stop, arrows inside it.
    for (let i = 0; i < 4; i++) await pa.keyboard.press('Tab');
    assert.equal(await pa.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Access');
    await pa.keyboard.press('End');
    assert.equal(await pa.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Add a server');
    await pa.keyboard.press('Enter');
    const choice = pa.getByRole('dialog', { name: 'Add a server' });
    await choice.waitFor();
    // Escape closes a dialog and focus returns to what opened it.
    await pa.keyboard.press('Escape');
    await choice.waitFor({ state: 'detached' });
    assert.equal(await pa.evaluate(() => document.activeElement.getAttribute('aria-label')), 'Add a server');
    await pa.keyboard.press('Enter');
    await choice.waitFor();
    assert.equal(await pa.evaluate(() => document.activeElement.textContent), 'Create my own');
    await pa.keyboard.press('Enter');
    const form = pa.getByRole('dialog', { name: 'Create a server' });
    await form.waitFor();
    await screenshot(pa, 'desktop-create-server');
    assert.equal(await pa.evaluate(() => document.activeElement.getAttribute('name')), 'name');
    await pa.keyboard.press('Control+A');
    await pa.keyboard.type('Keyboard Land');
    await pa.keyboard.press('Enter');
    await pa.getByRole('navigation', { name: 'Channels of Keyboard Land' }).waitFor();
    await pa.getByRole('heading', { level: 1, name: 'general' }).waitFor();
    await pa.getByRole('navigation', { name: 'Servers' }).getByRole('link', { name: 'Keyboard Land' }).waitFor();
  });

  it('opens menus from the keyboard; Escape closes them and focus returns', async () => {
    const btn = pa.getByRole('button', { name: 'Keyboard Land' });
    await btn.focus();
    await pa.keyboard.press('Enter');
    const menu = pa.getByRole('menu', { name: 'Keyboard Land menu' });
    await menu.waitFor();
    assert.equal(await btn.getAttribute('aria-expanded'), 'true');
    assert.equal(await pa.evaluate(() => document.activeElement.getAttribute('role')), 'menuitem');
    await pa.keyboard.press('ArrowDown');
    await pa.keyboard.press('Escape');
    await menu.waitFor({ state: 'detached' });
    assert.equal(await pa.evaluate(() => document.activeElement.className), 'guild-menu');
    assert.equal(await btn.getAttribute('aria-expanded'), 'false');
  });

  it('keeps text contrast at 4.5:1 or better (3:1 for large text)', async () => {
    await openChannel(pa, guild.id, guild.system_channel_id);
    await pa.locator('.msg', { hasText: 'typed with keys' }).waitFor();
    assert.deepEqual(await pa.evaluate(contrastFailures), []);
    // The check itself finds a faint text.
    await pa.evaluate(() => {
      const s = document.createElement('span');
      s.id = 'faint';
      s.textContent = 'faint';
      s.style.color = '#555960';
      document.querySelector('.chat-head').append(s);
    });
    assert.deepEqual(await pa.evaluate(contrastFailures), [{ text: 'faint', ratio: 1.8, need: 4.5 }]);
    await pa.evaluate(() => document.getElementById('faint').remove());
    await pa.getByRole('button', { name: 'Access' }).click();
    assert.deepEqual(await pa.evaluate(contrastFailures), []);
    await pa.keyboard.press('Escape');
    const login = await openPage(browser, server, { path: '/login' });
    await login.getByLabel('Username').waitFor();
    assert.deepEqual(await login.evaluate(contrastFailures), []);
    await closePages(login);
  });
});
