/*
 * A phone's width (390 × 844): one column; servers and channels in a drawer; the member
 * list over the chat; nothing wider than the screen.
 */
import { describe, it, before, after } from 'node:test';
import { Server, launch, openPage, closePages, openChannel, screenshot, assert, PHONE } from './harness.mjs';

describe('phone layout', () => {
  let server, browser, alice, bob, guild, random, pa, pb;

  before(async () => {
    server = await new Server().start();
    browser = await launch();
    alice = await server.register('alice', 'Alice');
    bob = await server.register('bob', 'Bob');
    guild = await server.ok('POST', '/guilds', alice.token, { name: 'Pocket' });
    const cat = await server.ok('POST', `/guilds/${guild.id}/channels`, alice.token, { name: 'Outdoors', type: 4 });
    random = await server.ok('POST', `/guilds/${guild.id}/channels`, alice.token, { name: 'hiking', parent_id: cat.id });
    await server.join(guild, alice, bob);
    await server.ok('POST', `/channels/${guild.system_channel_id}/messages`, bob.token, { content: `Morning <@${alice.id}>! Anyone up for a walk?` });
    pa = await openPage(browser, server, { token: alice.token, viewport: PHONE });
    pb = await openPage(browser, server, { token: bob.token });
    await openChannel(pa, guild.id, guild.system_channel_id);
    await openChannel(pb, guild.id, guild.system_channel_id);
  });

  after(async () => {
    await closePages(pa, pb);
    await browser?.close();
    await server?.stop();
  });

  const noOverflow = async (page) => assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= innerWidth), 'nothing wider than the screen');

  it('shows the chat alone, full width', async () => {
    assert.equal(await pa.getByRole('navigation', { name: 'Servers' }).isVisible(), false);
    assert.equal(await pa.getByRole('navigation', { name: 'Channels of Pocket' }).isVisible(), false);
    assert.equal(await pa.getByRole('complementary', { name: 'Members' }).count(), 0);
    const box = await pa.locator('main').boundingBox();
    assert.equal(box.width, PHONE.width);
    await noOverflow(pa);
    // The channel's name has room: the rarer tools sit in a "More options" menu.
    assert.equal(await pa.getByRole('heading', { level: 1 }).evaluate((e) => e.scrollWidth <= e.clientWidth), true);
    assert.equal(await pa.getByRole('button', { name: 'Pinned Messages' }).isVisible(), false);
    await pa.getByRole('button', { name: 'More options' }).click();
    await pa.getByRole('menu', { name: 'More options' }).getByRole('menuitem', { name: 'Pinned Messages' }).waitFor();
    await pa.keyboard.press('Escape');
    const text = pa.getByRole('textbox', { name: 'Message #general' });
    await text.fill('On my way');
    await text.press('Enter');
    await pb.locator('.msg', { hasText: 'On my way' }).waitFor();
    await screenshot(pa, 'phone-chat');
  });

  it('opens servers and channels in a drawer; picking a channel closes it', async () => {
    await pa.getByRole('button', { name: 'Open channels and servers' }).click();
    const nav = pa.getByRole('navigation', { name: 'Channels of Pocket' });
    await nav.waitFor();
    assert.ok(await pa.getByRole('navigation', { name: 'Servers' }).isVisible());
    await pa.mouse.move(200, 600);
    await pa.waitForTimeout(250);
    await screenshot(pa, 'phone-channels');
    await nav.getByRole('link', { name: /hiking/ }).click();
    await pa.getByRole('heading', { level: 1, name: 'hiking' }).waitFor();
    await nav.waitFor({ state: 'hidden' });
    await noOverflow(pa);
  });

  it('shows the member list over the chat and closes it', async () => {
    await pa.getByRole('button', { name: 'Member List' }).click();
    const members = pa.getByRole('complementary', { name: 'Members' });
    await members.waitFor();
    await members.getByRole('button', { name: 'Bob, Online' }).waitFor();
    await screenshot(pa, 'phone-members');
    await members.getByRole('button', { name: 'Close panel' }).click();
    await members.waitFor({ state: 'detached' });
  });

  it('sees messages from others live in another channel', async () => {
    await pb.goto(`${server.url}/channels/${guild.id}/${random.id}`);
    await pb.getByRole('textbox', { name: 'Message #hiking' }).fill('Trail is muddy');
    await pb.getByRole('textbox', { name: 'Message #hiking' }).press('Enter');
    await pa.locator('.msg', { hasText: 'Trail is muddy' }).waitFor();
    await noOverflow(pa);
  });
});
