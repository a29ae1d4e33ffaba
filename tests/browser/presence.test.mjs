/*
 * The member list with presence, your own status and custom status, seen live by
 * another user; going offline when the last tab closes.
 */
import { describe, it, before, after } from 'node:test';
import { Server, launch, openPage, closePages, openChannel, screenshot, assert } from './harness.mjs';

describe('presence and status', () => {
  let server, browser, alice, bob, guild, pa, pb;

  before(async () => {
    server = await new Server().start();
    browser = await launch();
    alice = await server.register('alice', 'Alice');
    bob = await server.register('bob', 'Bob');
    guild = await server.ok('POST', '/guilds', alice.token, { name: 'Status Club' });
    await server.join(guild, alice, bob);
    pa = await openPage(browser, server, { token: alice.token });
    await openChannel(pa, guild.id, guild.system_channel_id);
  });

  after(async () => {
    await closePages(pa, pb);
    await browser?.close();
    await server?.stop();
  });

  const bobRow = () => pa.getByRole('complementary', { name: 'Members' }).locator('button.member[data-user]').filter({ hasText: 'Bob' });

  it('lists members with their presence: offline, then online when they connect', async () => {
    const members = pa.getByRole('complementary', { name: 'Members' });
    await members.getByRole('heading', { name: 'Offline — 1' }).waitFor();
    assert.equal(await bobRow().getAttribute('aria-label'), 'Bob, Offline');
    pb = await openPage(browser, server, { token: bob.token });
    await openChannel(pb, guild.id, guild.system_channel_id);
    await members.getByRole('heading', { name: 'Online — 2' }).waitFor();
    assert.equal(await bobRow().getAttribute('aria-label'), 'Bob, Online');
    assert.equal(await members.getByRole('heading', { name: /Offline/ }).count(), 0);
  });

  it('sets your own status; the others see it', async () => {
    const me = pb.getByRole('region', { name: 'Your account' }).getByRole('button');
    await me.click();
    await pb.getByRole('menuitemradio', { name: /Do Not Disturb/ }).click();
    await pa.waitForFunction(() => [...document.querySelectorAll('button.member')].some((b) => b.getAttribute('aria-label') === 'Bob, Do Not Disturb'));
    assert.match(await me.getAttribute('aria-label'), /Bob, Do Not Disturb/);
    // Focus went back to the button that opened the menu.
    assert.equal(await pb.evaluate(() => document.activeElement.className), 'me-button');
  });

  it('sets a custom status; the others see it under the name', async () => {
    await pb.getByRole('region', { name: 'Your account' }).getByRole('button').click();
    await pb.getByRole('menuitem', { name: 'Set Custom Status' }).click();
    const dlg = pb.getByRole('dialog', { name: 'Set a custom status' });
    await dlg.getByRole('textbox').fill('Out to lunch');
    await dlg.getByRole('textbox').press('Enter');
    await bobRow().locator('.m-custom', { hasText: 'Out to lunch' }).waitFor();
    assert.equal(await bobRow().getAttribute('aria-label'), 'Bob, Do Not Disturb, Out to lunch');
    await screenshot(pa, 'desktop-members');
  });

  it('keeps your status across a reload', async () => {
    await pb.reload();
    await pb.locator('#composer-input').waitFor();
    assert.match(await pb.getByRole('region', { name: 'Your account' }).getByRole('button').getAttribute('aria-label'), /Do Not Disturb, Out to lunch/);
    await pa.waitForFunction(() => [...document.querySelectorAll('button.member')].some((b) => b.getAttribute('aria-label') === 'Bob, Do Not Disturb, Out to lunch'));
  });

  it('shows a profile card with the member’s status', async () => {
    await bobRow().click();
    const dlg = pa.getByRole('dialog', { name: 'Profile of Bob' });
    await dlg.getByText('Do Not Disturb — Out to lunch').waitFor();
    await pa.keyboard.press('Escape');
    await dlg.waitFor({ state: 'detached' });
  });

  it('goes offline for the others when the last tab closes', async () => {
    await closePages(pb);
    pb = null;
    await pa.waitForFunction(() => [...document.querySelectorAll('button.member')].some((b) => b.getAttribute('aria-label') === 'Bob, Offline'));
  });
});
