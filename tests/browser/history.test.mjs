/*
 * History: pages loaded as you scroll up, day separators across days, and opening a
 * message in context (/channels/GUILD/CHANNEL/MESSAGE, what a search hit or a reply does).
 */
import { describe, it, before, after } from 'node:test';
import { Server, launch, openPage, closePages, openChannel, assert } from './harness.mjs';

const COUNT = 130;
const snowflakeDay = (id) => new Date(Number((BigInt(id) >> 22n) + 1420070400000n)).toDateString();

describe('message history', () => {
  let server, browser, alice, guild, page, channel, all;

  before(async () => {
    server = await new Server().start();
    browser = await launch();
    alice = await server.register('alice', 'Alice');
    guild = await server.ok('POST', '/guilds', alice.token, { name: 'Archive' });
    channel = guild.system_channel_id;
    server.seedMessages(channel, alice.id, COUNT, 3);
    all = [];
    let before = '';
    for (;;) {
      const page = await server.ok('GET', `/channels/${channel}/messages?limit=100${before}`, alice.token);
      all.push(...page);
      if (page.length < 100) break;
      before = '&before=' + page[page.length - 1].id;
    }
    assert.equal(all.length, COUNT);
    page = await openPage(browser, server, { token: alice.token });
  });

  after(async () => {
    await closePages(page);
    await browser?.close();
    await server?.stop();
  });

  it('loads the newest page, then older pages as you scroll up, keeping your place', async () => {
    await openChannel(page, guild.id, channel);
    const msgs = page.locator('#messages .msg');
    await page.locator('.msg', { hasText: `history ${COUNT}` }).waitFor();
    assert.equal(await msgs.count(), 50);
    // The newest message is in view at the bottom.
    assert.ok(await page.locator('.msg', { hasText: `history ${COUNT}` }).isVisible());
    for (const expected of [100, COUNT]) {
      const anchor = page.locator('#messages .msg').first();
      const anchorText = await anchor.locator('.content').textContent();
      await page.locator('.scroller').evaluate((s) => (s.scrollTop = 0));
      await page.waitForFunction((n) => document.querySelectorAll('#messages .msg').length === n, expected);
      // The message that was at the top is still in view: the page did not jump.
      const box = await page.locator('.msg', { hasText: new RegExp(`^.*${anchorText}$`) }).first().boundingBox();
      assert.ok(box && box.y > 0 && box.y < 800, `the old top message stays in view (y=${box && box.y})`);
    }
    // The start of the channel is reached.
    await page.locator('.scroller').evaluate((s) => (s.scrollTop = 0));
    await page.getByRole('heading', { name: 'Welcome to #general!' }).waitFor();
    assert.equal(await msgs.count(), COUNT);
  });

  it('puts a day separator before the first message of each day', async () => {
    const chrono = [...all].reverse();
    const expected = chrono.filter((m, i) => i === 0 || snowflakeDay(m.id) !== snowflakeDay(chrono[i - 1].id)).map((m) => m.content);
    assert.ok(expected.length >= 3, 'the seeded history spans days');
    assert.equal(await page.locator('#messages .day-sep').count(), expected.length);
    // Each separator comes right before the oldest message of its day, and names the day.
    assert.deepEqual(await page.locator('#messages .day-sep + .msg .content').allTextContents(), expected);
    const first = await page.locator('#messages .day-sep').first().textContent();
    const d = new Date(Number((BigInt(chrono[0].id) >> 22n) + 1420070400000n));
    assert.equal(first, d.toLocaleDateString('en-US', { year: 'numeric', month: 'long', day: 'numeric' }));
  });

  it('opens a message in context and jumps back to the present', async () => {
    const target = all.find((m) => m.content === 'history 10');
    await page.goto(`${server.url}/channels/${guild.id}/${channel}/${target.id}`);
    const el = page.locator(`#m-${target.id}`);
    await el.waitFor();
    await page.waitForFunction((id) => document.activeElement && document.activeElement.id === 'm-' + id, target.id);
    assert.ok(await el.isVisible());
    // Only the messages around it are loaded, and the newest are not.
    assert.equal(await page.locator('.msg', { hasText: `history ${COUNT}` }).count(), 0);
    const bar = page.getByRole('button', { name: 'Jump to present' });
    await bar.click();
    await page.locator('.msg', { hasText: `history ${COUNT}` }).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.id), 'composer-input');
  });
});
