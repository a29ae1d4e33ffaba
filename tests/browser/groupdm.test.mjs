/*
 * Group DMs: one user picks two people in the "Create DM" picker and writes; both other
 * recipients see the group arrive live in their DM list with an unread count, open it,
 * and one's answer arrives live for the other two.
 */
import { describe, it, before, after } from 'node:test';
import { Server, launch, openPage, closePages, openChannel, assert } from './harness.mjs';

describe('group DMs', () => {
  let server, browser, alice, bob, carol, guild, pa, pb, pc;

  before(async () => {
    server = await new Server().start();
    browser = await launch();
    alice = await server.register('alice', 'Alice');
    bob = await server.register('bob', 'Bob');
    carol = await server.register('carol', 'Carol');
    guild = await server.ok('POST', '/guilds', alice.token, { name: 'Book Club' });
    await server.join(guild, alice, bob);
    await server.join(guild, alice, carol);
    pa = await openPage(browser, server, { token: alice.token });
    pb = await openPage(browser, server, { token: bob.token });
    pc = await openPage(browser, server, { token: carol.token });
    // Alice in the guild, so the picker knows its members; Bob and Carol in their DM list.
    await openChannel(pa, guild.id, guild.system_channel_id);
    await pa.locator('.member-list').getByText('Carol').first().waitFor();
    await pb.getByRole('navigation', { name: 'Direct messages' }).waitFor();
    await pc.getByRole('navigation', { name: 'Direct messages' }).waitFor();
  });

  after(async () => {
    await closePages(pa, pb, pc);
    await browser?.close();
    await server?.stop();
  });

  it('creates a group from the picker; its messages arrive live for the others', async () => {
    await pa.goto(`${server.url}/channels/@me`);
    await pa.getByRole('button', { name: 'Create a direct message' }).click();
    const picker = pa.getByRole('dialog', { name: 'Select Friends' });
    const people = picker.getByRole('list', { name: 'People' });
    await people.getByRole('checkbox', { name: /Bob/ }).check();
    await people.getByRole('checkbox', { name: /Carol/ }).check();
    await picker.getByText('2 selected').waitFor();
    await picker.getByRole('button', { name: 'Create DM' }).click();
    await picker.waitFor({ state: 'detached' });

    // Alice is in the new group: a type-3 channel with both of them.
    assert.match(new URL(pa.url()).pathname, /^\/channels\/@me\/\d+$/);
    const dmId = new URL(pa.url()).pathname.split('/')[3];
    const ch = await server.ok('GET', `/channels/${dmId}`, alice.token);
    assert.equal(ch.type, 3);
    assert.deepEqual(ch.recipients.map((u) => u.username).sort(), ['bob', 'carol']);
    const mine = pa.getByRole('navigation', { name: 'Direct messages' }).getByRole('link', { name: /Bob, Carol|Carol, Bob/ });
    assert.equal(await mine.getAttribute('aria-current'), 'page');
    assert.match(await mine.textContent(), /3 Members/);
    const box = pa.getByRole('textbox', { name: /^Message (Bob, Carol|Carol, Bob)$/ });
    await box.fill('chapter one by Friday?');
    await box.press('Enter');

    // Bob and Carol: the group appears in their lists with one unread message, live.
    for (const [page, others] of [
      [pb, /Alice, Carol|Carol, Alice/],
      [pc, /Alice, Bob|Bob, Alice/],
    ]) {
      const link = page.getByRole('navigation', { name: 'Direct messages' }).getByRole('link', { name: others });
      await link.waitFor();
      assert.match(await link.getAttribute('aria-label'), /1 unread/);
      await link.click();
      await page.locator('.msg', { hasText: 'chapter one by Friday?' }).waitFor();
      assert.equal(new URL(page.url()).pathname, `/channels/@me/${dmId}`);
    }

    // Carol answers; Alice and Bob, both looking at the group, see it arrive.
    const answer = pc.getByRole('textbox', { name: /^Message (Alice, Bob|Bob, Alice)$/ });
    await answer.fill('make it Sunday');
    await answer.press('Enter');
    await pa.locator('.msg', { hasText: 'make it Sunday' }).waitFor();
    await pb.locator('.msg', { hasText: 'make it Sunday' }).waitFor();
    const msgs = await server.ok('GET', `/channels/${dmId}/messages?limit=10`, bob.token);
    assert.deepEqual(
      msgs.map((m) => [m.author.username, m.content]),
      [
        ['carol', 'make it Sunday'],
        ['alice', 'chapter one by Friday?'],
      ],
    );
  });
});
