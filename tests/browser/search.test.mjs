/*
 * Search with the filter syntax (from: in: mentions: pinned:) typed in the search box;
 * results in the side panel; Jump opens the hit in context, also when it is older than
 * the loaded page or in another channel. A message the other user just sent is found.
 */
import { describe, it, before, after } from 'node:test';
import { Server, launch, openPage, closePages, openChannel, assert } from './harness.mjs';

describe('search', () => {
  let server, browser, alice, bob, guild, random, target, pa, pb;

  before(async () => {
    // The setup posts 60 messages at once: no rate limits.
    server = await new Server(['--ratelimit-enabled', '0']).start();
    browser = await launch();
    alice = await server.register('alice', 'Alice');
    bob = await server.register('bob', 'Bob');
    guild = await server.ok('POST', '/guilds', alice.token, { name: 'Archive' });
    await server.join(guild, alice, bob);
    const gen = guild.system_channel_id;
    random = await server.ok('POST', `/guilds/${guild.id}/channels`, alice.token, { name: 'random', type: 0 });
    target = await server.ok('POST', `/channels/${gen}/messages`, alice.token, { content: 'the quarterly report is ready' });
    await server.ok('POST', `/channels/${random.id}/messages`, bob.token, { content: 'a report in random' });
    await server.ok('POST', `/channels/${gen}/messages`, bob.token, { content: `<@${alice.id}> report draft, have a look` });
    for (let i = 1; i <= 60; i++) await server.ok('POST', `/channels/${gen}/messages`, i % 2 ? alice.token : bob.token, { content: `filler ${i}` });
    pa = await openPage(browser, server, { token: alice.token });
    pb = await openPage(browser, server, { token: bob.token });
    await openChannel(pa, guild.id, gen);
    await openChannel(pb, guild.id, gen);
    await pb.locator('.msg', { hasText: 'filler 60' }).waitFor();
  });

  after(async () => {
    await closePages(pa, pb);
    await browser?.close();
    await server?.stop();
  });

  const search = async (page, text) => {
    const input = page.getByRole('searchbox', { name: 'Search Archive' });
    await input.fill(text);
    await input.press('Enter');
    const panel = page.getByRole('complementary', { name: 'Search results' });
    await panel.locator('.search-query strong', { hasText: text }).waitFor();
    await panel.getByRole('status').filter({ hasNotText: 'Searching…' }).waitFor();
    return panel;
  };

  it('finds by words and from:, and jumps to an old hit in the channel in view', async () => {
    assert.equal(await pb.locator('#messages .msg', { hasText: 'the quarterly report' }).count(), 0, 'the hit is older than the loaded page');
    const panel = await search(pb, 'report from:alice');
    assert.equal(await panel.getByRole('status').textContent(), '1 result');
    const hit = panel.locator('.result');
    assert.equal(await hit.count(), 1);
    assert.match(await hit.locator('.result-meta').textContent(), /^#general · Alice/);
    await hit.getByRole('button', { name: 'Jump to message from Alice' }).click();
    const msg = pb.locator(`#messages .msg[data-id="${target.id}"]`);
    await msg.waitFor();
    // Scrolled into view and focused.
    await pb.waitForFunction((id) => {
      const el = document.querySelector(`#messages .msg[data-id="${id}"]`);
      const box = el.closest('.msgview').firstElementChild.getBoundingClientRect();
      const r = el.getBoundingClientRect();
      return r.top >= box.top && r.bottom <= box.bottom && document.activeElement === el;
    }, target.id);
    // The search stays open while jumping within the guild.
    assert.equal(await panel.locator('.result').count(), 1);
  });

  it('filters by mentions: and in:, and jumps to another channel', async () => {
    let panel = await search(pb, 'mentions:alice');
    assert.equal(await panel.getByRole('status').textContent(), '1 result');
    assert.match(await panel.locator('.result').textContent(), /report draft/);
    panel = await search(pb, 'report in:random');
    assert.equal(await panel.getByRole('status').textContent(), '1 result');
    await panel.locator('.result').getByRole('button', { name: 'Jump to message from Bob' }).click();
    await pb.getByRole('heading', { level: 1, name: 'random' }).waitFor();
    await pb.locator('#messages .msg', { hasText: 'a report in random' }).waitFor();
    assert.match(new URL(pb.url()).pathname, new RegExp(`^/channels/${guild.id}/${random.id}/\\d+$`));
  });

  it('finds what the other user just sent, and pinned:true', async () => {
    const box = pa.getByRole('textbox', { name: 'Message #general' });
    await box.fill('fresh report on the budget');
    await box.press('Enter');
    await pb.locator('#channels a.channel.unread', { hasText: 'general' }).waitFor();
    let panel = await search(pb, 'budget');
    assert.equal(await panel.getByRole('status').textContent(), '1 result');
    await server.ok('PUT', `/channels/${guild.system_channel_id}/messages/pins/${target.id}`, alice.token);
    panel = await search(pb, 'pinned:true');
    assert.equal(await panel.getByRole('status').textContent(), '1 result');
    assert.match(await panel.locator('.result').textContent(), /quarterly report/);
  });

  it('says what is wrong with a bad filter', async () => {
    const panel = await search(pb, 'from:nobody');
    assert.equal(await panel.getByRole('status').textContent(), 'No member called “nobody”.');
    await panel.getByRole('button', { name: 'Close panel' }).click();
  });
});
