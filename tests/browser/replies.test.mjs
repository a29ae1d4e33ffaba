/*
 * Replies, reactions with the emoji picker, pins and the pins panel: one user acts from a
 * message's action bar, the other sees the result live.
 */
import { describe, it, before, after } from 'node:test';
import { Server, launch, openPage, closePages, openChannel, assert } from './harness.mjs';

describe('replies, reactions and pins', () => {
  let server, browser, alice, bob, guild, pa, pb;

  before(async () => {
    server = await new Server().start();
    browser = await launch();
    alice = await server.register('alice', 'Alice');
    bob = await server.register('bob', 'Bob');
    guild = await server.ok('POST', '/guilds', alice.token, { name: 'Kitchen' });
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

  /* The message whose own text is `text` (a reply quotes its original outside .content). */
  const msg = (page, text) => page.locator('.msg').filter({ has: page.locator('.body > .content', { hasText: text }) });
  const send = async (page, text) => {
    const box = page.getByRole('textbox', { name: 'Message #general' });
    await box.fill(text);
    await box.press('Enter');
    await msg(page, text).and(page.locator(':not(.pending)')).waitFor();
  };
  /* The action bar of a message shows on hover, as on Discord. */
  const action = async (page, text, label) => {
    const m = msg(page, text);
    await m.hover();
    await m.getByRole('toolbar', { name: 'Message actions' }).getByRole('button', { name: label }).click();
  };

  it('replies to a message; the other user sees the quoted original', async () => {
    await send(pa, 'what is for dinner');
    await msg(pb, 'what is for dinner').waitFor();
    await action(pb, 'what is for dinner', 'Reply');
    const form = pb.getByRole('form', { name: 'Send a message' });
    await form.getByText('Replying to Alice').waitFor();
    await send(pb, 'pizza, obviously');
    assert.equal(await form.getByText('Replying to').count(), 0, 'the reply bar closes after sending');
    const reply = pa.locator('.msg', { hasText: 'pizza, obviously' });
    await reply.waitFor();
    const ref = reply.locator('.reply-ref');
    assert.equal(await ref.locator('.reply-author').textContent(), '@Alice');
    assert.equal(await ref.locator('.reply-text').textContent(), 'what is for dinner');
    // The server stored the reference.
    const [last] = await server.ok('GET', `/channels/${guild.system_channel_id}/messages?limit=1`, alice.token);
    assert.equal(last.type, 19);
    assert.equal(last.referenced_message.content, 'what is for dinner');
  });

  it('reacts with the emoji picker; counts and "yours" update live for both', async () => {
    await action(pb, 'what is for dinner', 'Add Reaction');
    const picker = pb.getByRole('dialog', { name: 'Emoji picker' });
    await picker.getByRole('searchbox', { name: 'Search emoji' }).fill('pizza');
    await picker.getByRole('option', { name: 'pizza', exact: true }).click();
    await picker.waitFor({ state: 'detached' });
    const onA = msg(pa, 'what is for dinner').getByRole('button', { name: /^🍕, / });
    await onA.and(pa.getByRole('button', { name: '🍕, 1 reaction' })).waitFor();
    assert.equal(await onA.getAttribute('aria-pressed'), 'false');
    // Alice adds hers by clicking the reaction.
    await onA.click();
    await pa.getByRole('button', { name: '🍕, 2 reactions, including yours' }).waitFor();
    const onB = msg(pb, 'what is for dinner').getByRole('button', { name: /^🍕, / });
    await onB.and(pb.getByRole('button', { name: '🍕, 2 reactions, including yours' })).waitFor();
    // Bob takes his back.
    await onB.click();
    await pb.getByRole('button', { name: '🍕, 1 reaction' }).waitFor();
    await pa.getByRole('button', { name: '🍕, 1 reaction, including yours' }).waitFor();
    // A second emoji from the small add button by the reactions, picked from Frequently used.
    await msg(pb, 'what is for dinner').getByRole('button', { name: 'Add reaction', exact: true }).click();
    await picker.getByRole('searchbox', { name: 'Search emoji' }).fill('thumbs up');
    await picker.getByRole('searchbox', { name: 'Search emoji' }).press('Enter');
    await pa.getByRole('button', { name: '👍, 1 reaction' }).waitFor();
    const users = await server.ok('GET', `/channels/${guild.system_channel_id}/messages/${await msgId(pa, 'what is for dinner')}/reactions/${encodeURIComponent('👍')}`, alice.token);
    assert.deepEqual(users.map((u) => u.id), [bob.id]);
  });

  const msgId = (page, text) => msg(page, text).getAttribute('data-id');

  it('pins a message; the pins panel of the other user lists it live and jumps to it', async () => {
    await pb.getByRole('button', { name: 'Pinned Messages' }).click();
    const panel = pb.getByRole('complementary', { name: 'Pinned messages' });
    await panel.getByText('This channel doesn’t have any pinned messages… yet.').waitFor();
    await action(pa, 'what is for dinner', 'Pin Message');
    await pa.locator('#toasts').getByText('Message pinned.').waitFor({ state: 'attached' });
    await panel.locator('.result', { hasText: 'what is for dinner' }).waitFor();
    // The pin's MESSAGE_UPDATE carries the whole message with `me: false` on its reactions:
    // Alice's own reaction still shows as hers.
    await msg(pb, 'what is for dinner').getByRole('button', { name: '🍕, 1 reaction' }).waitFor();
    assert.equal(await msg(pa, 'what is for dinner').getByRole('button', { name: '🍕, 1 reaction, including yours' }).count(), 1);
    // The message shows as pinned for the other user too (Unpin needs MANAGE_MESSAGES, so
    // check the message object the server sent).
    const id = await msgId(pb, 'what is for dinner');
    const pins = await server.ok('GET', `/channels/${guild.system_channel_id}/messages/pins`, bob.token);
    assert.deepEqual(pins.items.map((p) => p.message.id), [id]);
    // A second pin arrives on top.
    await send(pa, 'remember the milk');
    await action(pa, 'remember the milk', 'Pin Message');
    await panel.locator('.result').first().filter({ hasText: 'remember the milk' }).waitFor();
    assert.equal(await panel.locator('.result').count(), 2);
    await panel.locator('.result', { hasText: 'what is for dinner' }).getByRole('button', { name: 'Jump' }).click();
    await pb.waitForURL(`**/channels/${guild.id}/${guild.system_channel_id}/${id}`);
    // Jumping closes the panel, as Discord's pins popout does; open it again.
    await panel.waitFor({ state: 'detached' });
    await pb.getByRole('button', { name: 'Pinned Messages' }).click();
    await panel.locator('.result', { hasText: 'remember the milk' }).waitFor();
    // Unpinning removes it from the panel.
    await action(pa, 'remember the milk', 'Unpin Message');
    await pa.locator('#toasts').getByText('Message unpinned.').waitFor({ state: 'attached' });
    await panel.locator('.result', { hasText: 'remember the milk' }).waitFor({ state: 'detached' });
    await panel.locator('.result', { hasText: 'what is for dinner' }).waitFor();
    assert.equal(await panel.locator('.result').count(), 1);
  });
});
