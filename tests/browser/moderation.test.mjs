/*
 * Moderation from the settings and profiles: creating a role with a permission and giving
 * it to a member (whose client gains the ability live), a time-out (the member's message
 * box locks live), a kick (the guild leaves the member's rail live) and a ban (the
 * invite link then says so; the Bans tab revokes it).
 */
import { describe, it, before, after } from 'node:test';
import { Server, launch, openPage, closePages, openChannel, assert } from './harness.mjs';

describe('moderation', () => {
  let server, browser, alice, bob, guild, pa, pb;

  before(async () => {
    server = await new Server().start();
    browser = await launch();
    alice = await server.register('alice', 'Alice');
    bob = await server.register('bob', 'Bob');
    guild = await server.ok('POST', '/guilds', alice.token, { name: 'Town Hall' });
    await server.join(guild, alice, bob);
    await server.ok('POST', `/channels/${guild.system_channel_id}/messages`, alice.token, { content: 'house rules' });
    await server.ok('POST', `/channels/${guild.system_channel_id}/messages`, bob.token, { content: 'bob was here' });
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

  const profileOfBob = async () => {
    await pa.locator('.msg', { hasText: 'bob was here' }).getByRole('button', { name: 'Bob' }).click();
    return pa.getByRole('dialog', { name: 'Profile of Bob' });
  };
  const actionsOf = async (page, text) => {
    const m = page.locator('.msg', { hasText: text });
    await m.hover();
    return m.getByRole('toolbar', { name: 'Message actions' });
  };

  it('creates a role with a permission and gives it to a member, who can use it at once', async () => {
    assert.equal(await (await actionsOf(pb, 'house rules')).getByRole('button', { name: 'Pin Message' }).count(), 0);
    await pa.getByRole('button', { name: 'Town Hall' }).click();
    await pa.getByRole('menuitem', { name: 'Server Settings' }).click();
    const settings = pa.getByRole('dialog', { name: 'Town Hall — Server Settings' });
    await settings.getByRole('tab', { name: 'Roles' }).click();
    await settings.getByRole('button', { name: 'Create Role' }).click();
    const dlg = pa.getByRole('dialog', { name: 'Create role' });
    await dlg.getByLabel('Role name').fill('Helpers');
    await dlg.getByLabel('Manage messages').check();
    await dlg.getByRole('button', { name: 'Create Role' }).click();
    await settings.getByRole('button', { name: 'Edit Helpers' }).waitFor();
    await settings.getByRole('button', { name: 'Close' }).click();
    const roles = await server.ok('GET', `/guilds/${guild.id}/roles`, alice.token);
    const helpers = roles.find((r) => r.name === 'Helpers');
    assert.ok(helpers, 'the role exists');
    assert.equal(BigInt(helpers.permissions) & 0x2000n, 0x2000n, 'with MANAGE_MESSAGES');

    await (await profileOfBob()).getByRole('button', { name: 'Manage roles' }).click();
    const rdlg = pa.getByRole('dialog', { name: 'Roles of Bob' });
    await rdlg.getByLabel('Helpers').check();
    await rdlg.getByRole('button', { name: 'Save' }).click();
    await rdlg.waitFor({ state: 'detached' });
    // Bob's client sees his new role: he may pin Alice's message now.
    const bar = await actionsOf(pb, 'house rules');
    await bar.getByRole('button', { name: 'Pin Message' }).waitFor();
    const m = await server.ok('GET', `/guilds/${guild.id}/members/${bob.id}`, alice.token);
    assert.deepEqual(m.roles, [helpers.id]);
  });

  it('times a member out: their message box locks live; removing it unlocks it', async () => {
    const box = pb.locator('#composer-input');
    assert.equal(await box.isDisabled(), false);
    await (await profileOfBob()).getByRole('button', { name: 'Time out' }).click();
    const dlg = pa.getByRole('dialog', { name: 'Time out Bob' });
    await dlg.getByLabel('5 minutes').check();
    await dlg.getByLabel('Reason (optional)').fill('cool down');
    await dlg.getByRole('button', { name: 'Time out' }).click();
    await dlg.waitFor({ state: 'detached' });
    await pb.waitForFunction(() => document.querySelector('#composer-input').placeholder.startsWith('You do not have permission'));
    const m = await server.ok('GET', `/guilds/${guild.id}/members/${bob.id}`, alice.token);
    const left = Date.parse(m.communication_disabled_until) - Date.now();
    assert.ok(left > 240000 && left <= 300000, `about 5 minutes left, not ${left} ms`);
    const log = await server.ok('GET', `/guilds/${guild.id}/audit-logs?action_type=24`, alice.token);
    assert.equal(log.audit_log_entries[0].reason, 'cool down');
    // The profile now offers to remove it.
    await (await profileOfBob()).getByRole('button', { name: 'Remove time-out' }).click();
    await pb.waitForFunction(() => document.querySelector('#composer-input').placeholder === 'Message #general');
  });

  it('kicks a member: the guild leaves their rail live', async () => {
    const rail = pb.getByRole('navigation', { name: 'Servers' });
    await rail.getByRole('link', { name: 'Town Hall' }).waitFor();
    await (await profileOfBob()).getByRole('button', { name: 'Kick' }).click();
    const dlg = pa.getByRole('dialog', { name: 'Kick Bob from the server' });
    await dlg.getByLabel('Reason for kick (optional)').fill('spam');
    await dlg.getByRole('button', { name: 'Kick' }).click();
    await rail.getByRole('link', { name: 'Town Hall' }).waitFor({ state: 'detached' });
    await pb.waitForURL((u) => !u.pathname.startsWith(`/channels/${guild.id}`));
    // Alice's member list no longer shows Bob.
    await pa.getByRole('complementary', { name: 'Members' }).getByText('Bob').waitFor({ state: 'detached' });
    const r = await server.api('GET', `/guilds/${guild.id}/members/${bob.id}`, alice.token);
    assert.equal(r.status, 404);
  });

  it('bans a member who rejoined; their invite link then refuses, and the Bans tab revokes it', async () => {
    await server.join(guild, alice, bob);
    const rail = pb.getByRole('navigation', { name: 'Servers' });
    await rail.getByRole('link', { name: 'Town Hall' }).waitFor();
    await pa.getByRole('complementary', { name: 'Members' }).getByText('Bob').first().waitFor();
    await (await profileOfBob()).getByRole('button', { name: 'Ban' }).click();
    const dlg = pa.getByRole('dialog', { name: 'Ban Bob' });
    await dlg.getByLabel('Reason for ban (optional)').fill('repeat offender');
    await dlg.getByRole('button', { name: 'Ban' }).click();
    await rail.getByRole('link', { name: 'Town Hall' }).waitFor({ state: 'detached' });
    const ban = await server.ok('GET', `/guilds/${guild.id}/bans/${bob.id}`, alice.token);
    assert.equal(ban.reason, 'repeat offender');
    // Bob tries an invite link: refused, and told why.
    const inv = await server.ok('POST', `/channels/${guild.system_channel_id}/invites`, alice.token, {});
    await pb.goto(`${server.url}/invite/${inv.code}`);
    pb.expectError(/403/);
    await pb.getByRole('dialog', { name: 'Invitation' }).getByRole('button', { name: 'Accept Invite' }).click();
    await pb.locator('#toasts').getByText('You are banned from this server.').waitFor({ state: 'attached' });
    await pb.getByRole('dialog', { name: 'Invitation' }).getByRole('button', { name: 'Close' }).click();
    // Alice revokes the ban in the settings; Bob's link works again.
    await pa.getByRole('button', { name: 'Town Hall' }).click();
    await pa.getByRole('menuitem', { name: 'Server Settings' }).click();
    const settings = pa.getByRole('dialog', { name: 'Town Hall — Server Settings' });
    await settings.getByRole('tab', { name: 'Bans' }).click();
    await settings.getByText('repeat offender', { exact: false }).waitFor();
    await settings.getByRole('button', { name: 'Revoke ban of Bob' }).click();
    await settings.getByText('No bans. Nice.').waitFor();
    await settings.getByRole('button', { name: 'Close' }).click();
    await pb.goto(`${server.url}/invite/${inv.code}`);
    await pb.getByRole('dialog', { name: 'Invitation' }).getByRole('button', { name: 'Accept Invite' }).click();
    await rail.getByRole('link', { name: 'Town Hall' }).waitFor();
  });
});
