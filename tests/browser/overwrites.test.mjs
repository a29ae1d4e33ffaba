/*
 * Channel permission overwrites from the channel settings: denying @everyone Send
 * messages locks the other user's message box live; an allow for that member unlocks it
 * again; removing the member's overwrite locks it once more.
 */
import { describe, it, before, after } from 'node:test';
import { Server, launch, openPage, closePages, openChannel, assert } from './harness.mjs';

describe('channel permission overwrites', () => {
  let server, browser, alice, bob, guild, pa, pb;

  before(async () => {
    server = await new Server().start();
    browser = await launch();
    alice = await server.register('alice', 'Alice');
    bob = await server.register('bob', 'Bob');
    guild = await server.ok('POST', '/guilds', alice.token, { name: 'Newsroom' });
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

  const locked = (page, yes) =>
    page.waitForFunction((y) => {
      const box = document.querySelector('#composer-input');
      return box.disabled === y && box.placeholder.startsWith('You do not have permission') === y;
    }, yes);

  it('denies @everyone and allows one member; the member sees it live', async () => {
    await locked(pb, false);
    await pa.getByRole('button', { name: 'Edit Channel' }).click();
    const settings = pa.getByRole('dialog', { name: '#general — Channel Settings' });
    await settings.getByRole('tab', { name: 'Permissions' }).click();
    await settings.getByRole('button', { name: 'Edit permissions of @everyone' }).click();
    await settings.getByRole('group', { name: 'Send messages', exact: true }).getByLabel('✕ Deny').check();
    await settings.getByRole('heading', { name: 'Permissions for @everyone in #general' }).waitFor();
    await settings.getByRole('button', { name: 'Save Changes' }).click();
    await locked(pb, true);
    let ch = await server.ok('GET', `/channels/${guild.system_channel_id}`, alice.token);
    const ev = ch.permission_overwrites.find((o) => o.id === guild.id);
    assert.equal(BigInt(ev.deny) & 0x800n, 0x800n, 'SEND_MESSAGES denied to @everyone');
    // Alice (the owner) still writes.
    await locked(pa, false);

    await settings.getByRole('combobox', { name: 'Add a role or member' }).selectOption({ label: 'Bob' });
    await settings.getByRole('heading', { name: 'Permissions for Bob in #general' }).waitFor();
    await settings.getByRole('group', { name: 'Send messages', exact: true }).getByLabel('✓ Allow').check();
    await settings.getByRole('button', { name: 'Save Changes' }).click();
    await locked(pb, false);
    await settings.getByRole('button', { name: 'Edit permissions of Bob' }).waitFor();
    ch = await server.ok('GET', `/channels/${guild.system_channel_id}`, alice.token);
    assert.deepEqual(ch.permission_overwrites.find((o) => o.id === bob.id), { id: bob.id, type: 1, allow: '2048', deny: '0' });

    // Bob writes; then his overwrite goes and the box locks again.
    await pb.getByRole('textbox', { name: 'Message #general' }).fill('I may speak');
    await pb.getByRole('textbox', { name: 'Message #general' }).press('Enter');
    await pa.locator('.msg', { hasText: 'I may speak' }).waitFor();
    await settings.getByRole('button', { name: 'Edit permissions of Bob' }).click();
    await settings.getByRole('button', { name: 'Remove overwrite' }).click();
    await locked(pb, true);
    await settings.getByRole('button', { name: 'Edit permissions of Bob' }).waitFor({ state: 'detached' });
  });
});
