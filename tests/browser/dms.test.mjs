/*
 * Direct messages: one user opens a DM from the other's profile (their name on a message)
 * and writes; the DM appears live in the other's list with an unread count, and the
 * answer comes back live.
 */
import { describe, it, before, after } from 'node:test';
import { Server, launch, openPage, closePages, openChannel, assert } from './harness.mjs';

describe('direct messages', () => {
  let server, browser, alice, bob, guild, pa, pb;

  before(async () => {
    server = await new Server().start();
    browser = await launch();
    alice = await server.register('alice', 'Alice');
    bob = await server.register('bob', 'Bob');
    guild = await server.ok('POST', '/guilds', alice.token, { name: 'Meeting Place' });
    await server.join(guild, alice, bob);
    await server.ok('POST', `/channels/${guild.system_channel_id}/messages`, bob.token, { content: 'hello from Bob' });
    pa = await openPage(browser, server, { token: alice.token });
    pb = await openPage(browser, server, { token: bob.token });
    await openChannel(pa, guild.id, guild.system_channel_id);
    await pb.getByRole('navigation', { name: 'Direct messages' }).waitFor();
  });

  after(async () => {
    await closePages(pa, pb);
    await browser?.close();
    await server?.stop();
  });

  it('opens a DM from a profile; the other user sees it arrive and answers', async () => {
    const dms = pb.getByRole('navigation', { name: 'Direct messages' });
    await dms.getByText('No direct messages yet.', { exact: false }).waitFor();
    await pa.locator('.msg', { hasText: 'hello from Bob' }).getByRole('button', { name: 'Bob' }).click();
    const profile = pa.getByRole('dialog', { name: 'Profile of Bob' });
    await profile.getByRole('button', { name: 'Message @bob' }).click();
    await profile.waitFor({ state: 'detached' });
    // Alice is in the DM, which her list shows as current.
    const box = pa.getByRole('textbox', { name: 'Message @Bob' });
    await box.waitFor();
    const dmId = new URL(pa.url()).pathname.split('/')[3];
    assert.match(new URL(pa.url()).pathname, /^\/channels\/@me\/\d+$/);
    assert.equal(await pa.getByRole('navigation', { name: 'Direct messages' }).getByRole('link', { name: /^Bob/ }).getAttribute('aria-current'), 'page');
    await box.fill('psst, a secret');
    await box.press('Enter');
    // Bob: the DM appears in his list with one unread message, without reloading.
    const link = dms.getByRole('link', { name: /^Alice.*1 unread/ });
    await link.waitFor();
    await link.click();
    await pb.locator('.msg', { hasText: 'psst, a secret' }).waitFor();
    assert.equal(new URL(pb.url()).pathname, `/channels/@me/${dmId}`);
    await pb.waitForFunction(() => !document.querySelector('.dm-link .badge'));
    const answer = pb.getByRole('textbox', { name: 'Message @Alice' });
    await answer.fill('my lips are sealed');
    await answer.press('Enter');
    await pa.locator('.msg', { hasText: 'my lips are sealed' }).waitFor();
    // Opening the DM again from the profile lands in the same channel.
    await pa.goto(`${server.url}/channels/${guild.id}/${guild.system_channel_id}`);
    await pa.locator('.msg', { hasText: 'hello from Bob' }).getByRole('button', { name: 'Bob' }).click();
    await pa.getByRole('dialog', { name: 'Profile of Bob' }).getByRole('button', { name: 'Message @bob' }).click();
    await pa.locator('.msg', { hasText: 'my lips are sealed' }).waitFor();
    assert.equal(new URL(pa.url()).pathname, `/channels/@me/${dmId}`);
  });
});
