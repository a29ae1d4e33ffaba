/*
 * Invites: one user creates an invite link from the channel header, the other opens the
 * link, sees the invitation (guild name, inviter, counts) and joins; the first sees the
 * new member live. A bad code shows the invalid-invite message.
 */
import { describe, it, before, after } from 'node:test';
import { Server, launch, openPage, closePages, openChannel, assert } from './harness.mjs';

describe('invites', () => {
  let server, browser, alice, bob, guild, pa, pb;

  before(async () => {
    server = await new Server().start();
    browser = await launch();
    alice = await server.register('alice', 'Alice');
    bob = await server.register('bob', 'Bob');
    guild = await server.ok('POST', '/guilds', alice.token, { name: 'Invite Club' });
    pa = await openPage(browser, server, { token: alice.token });
    pb = await openPage(browser, server, { token: bob.token });
    await openChannel(pa, guild.id, guild.system_channel_id);
  });

  after(async () => {
    await closePages(pa, pb);
    await browser?.close();
    await server?.stop();
  });

  it('creates an invite link; the other user joins by it and both see it live', async () => {
    const members = pa.getByRole('complementary', { name: 'Members' });
    await members.getByText('Alice').first().waitFor();
    await pa.getByRole('button', { name: 'Invite People' }).click();
    const dlg = pa.getByRole('dialog', { name: 'Invite friends to Invite Club' });
    const input = dlg.getByRole('textbox', { name: 'Invite link' });
    await dlg.getByRole('button', { name: 'Copy' }).and(pa.locator(':enabled')).waitFor();
    const link = await input.inputValue();
    assert.match(link, new RegExp(`^${server.url}/invite/[A-Za-z0-9-]+$`));
    const code = link.split('/').pop();
    // The server knows the invite: Alice's own link, to #general.
    const inv = await server.ok('GET', `/invites/${code}`, bob.token);
    assert.equal(inv.channel.id, guild.system_channel_id);
    assert.equal(inv.inviter.id, alice.id);
    await dlg.getByRole('button', { name: 'Close' }).click();

    await pb.goto(link);
    const card = pb.getByRole('dialog', { name: 'Invitation' });
    await card.getByRole('heading', { name: 'Invite Club' }).waitFor();
    assert.equal(await card.locator('.invited-by').textContent(), 'Alice invited you to join');
    assert.match(await card.locator('.counts').textContent(), /1 Members/);
    await card.getByRole('button', { name: 'Accept Invite' }).click();
    // Bob lands in the invite's channel, with the guild in his rail.
    await pb.getByRole('heading', { level: 1, name: 'general' }).waitFor();
    assert.equal(new URL(pb.url()).pathname, `/channels/${guild.id}/${guild.system_channel_id}`);
    await pb.getByRole('navigation', { name: 'Servers' }).getByRole('link', { name: 'Invite Club' }).waitFor();
    // Alice sees Bob in the member list without reloading, and his first message.
    await members.getByText('Bob').first().waitFor();
    await pb.getByRole('textbox', { name: 'Message #general' }).fill('thanks for the invite');
    await pb.getByRole('textbox', { name: 'Message #general' }).press('Enter');
    await pa.locator('.msg', { hasText: 'thanks for the invite' }).waitFor();
    const after = await server.ok('GET', `/invites/${code}?with_counts=true`, bob.token);
    assert.equal(after.approximate_member_count, 2);
  });

  it('opening the link again offers to go to the server instead', async () => {
    const inv = await server.ok('POST', `/channels/${guild.system_channel_id}/invites`, alice.token, {});
    await pb.goto(`${server.url}/invite/${inv.code}`);
    const card = pb.getByRole('dialog', { name: 'Invitation' });
    await card.getByRole('button', { name: 'Go to server' }).click();
    await pb.getByRole('heading', { level: 1, name: 'general' }).waitFor();
  });

  it('an unknown code says the invite is invalid', async () => {
    pb.expectError(/404/);
    await pb.goto(`${server.url}/invite/nosuchcode`);
    const card = pb.getByRole('dialog', { name: 'Invitation' });
    await card.getByText('This invite is invalid or has expired.').waitFor();
    await card.getByRole('button', { name: 'Close' }).click();
  });
});
