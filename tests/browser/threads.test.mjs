/*
 * Threads: one user starts a thread from a message and writes in it in the side panel;
 * the other sees the thread appear under the message live, opens it in the side panel
 * (and from the Threads menu) and answers there.
 */
import { describe, it, before, after } from 'node:test';
import { Server, launch, openPage, closePages, openChannel, assert } from './harness.mjs';

describe('threads', () => {
  let server, browser, alice, bob, guild, pa, pb;

  before(async () => {
    server = await new Server().start();
    browser = await launch();
    alice = await server.register('alice', 'Alice');
    bob = await server.register('bob', 'Bob');
    guild = await server.ok('POST', '/guilds', alice.token, { name: 'Workshop' });
    await server.join(guild, alice, bob);
    await server.ok('POST', `/channels/${guild.system_channel_id}/messages`, alice.token, { content: 'release plan for May' });
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

  it('starts a thread from a message; the other user opens it in the side panel and answers', async () => {
    const msgA = pa.locator('.msg', { hasText: 'release plan for May' });
    await msgA.hover();
    await msgA.getByRole('toolbar', { name: 'Message actions' }).getByRole('button', { name: 'Create Thread' }).click();
    const dlg = pa.getByRole('dialog', { name: 'Create Thread' });
    const name = dlg.getByRole('textbox', { name: 'Thread name' });
    assert.equal(await name.inputValue(), 'release plan for May');
    await name.fill('May release');
    await dlg.getByRole('button', { name: 'Create Thread' }).click();
    const panelA = pa.getByRole('complementary', { name: 'Thread May release' });
    await panelA.waitFor();
    const boxA = panelA.getByRole('textbox', { name: 'Message May release' });
    await boxA.fill('first: freeze the API');
    await boxA.press('Enter');
    await panelA.locator('.msg:not(.pending)', { hasText: 'first: freeze the API' }).waitFor();
    // The thread's message did not land in the channel.
    assert.equal(await pa.locator('#messages .msg', { hasText: 'first: freeze the API' }).count(), 0);

    // Bob sees the thread under the message, live, and opens it.
    const link = pb.locator('.msg', { hasText: 'release plan for May' }).locator('button.thread-link');
    await link.filter({ hasText: 'May release' }).waitFor();
    await link.click();
    const panelB = pb.getByRole('complementary', { name: 'Thread May release' });
    await panelB.locator('.msg', { hasText: 'first: freeze the API' }).waitFor();
    const boxB = panelB.getByRole('textbox', { name: 'Message May release' });
    await boxB.fill('agreed');
    await boxB.press('Enter');
    await panelA.locator('.msg', { hasText: 'agreed' }).waitFor();
    assert.equal(await pb.locator('#messages .msg', { hasText: 'agreed' }).count(), 0);
    const ths = await server.ok('GET', `/guilds/${guild.id}/threads/active`, bob.token);
    assert.deepEqual(ths.threads.map((t) => t.name), ['May release']);
    // Closing the panel and opening the thread from the Threads menu.
    await panelB.getByRole('button', { name: 'Close panel' }).click();
    await panelB.waitFor({ state: 'detached' });
    await pb.getByRole('button', { name: 'Threads' }).click();
    await pb.getByRole('menu', { name: 'Threads' }).getByRole('menuitem', { name: 'May release' }).click();
    await panelB.locator('.msg', { hasText: 'agreed' }).waitFor();
  });
});
