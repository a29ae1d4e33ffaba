/*
 * Two users in two browser contexts: one acts, the other sees the result live.
 * Guild rail and creating a guild, channels and categories, sending, editing (Up arrow),
 * deleting, mentions, grouping, typing, unread markers and mention counts.
 */
import { describe, it, before, after } from 'node:test';
import { Server, launch, openPage, closePages, openChannel, screenshot, assert, DESKTOP } from './harness.mjs';

describe('chat between two users', () => {
  let server, browser, alice, bob, guild, pa, pb;

  before(async () => {
    server = await new Server().start();
    browser = await launch();
    alice = await server.register('alice', 'Alice');
    bob = await server.register('bob', 'Bob');
    guild = await server.ok('POST', '/guilds', alice.token, { name: 'Hearth Fans' });
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

  it('shows the guild in the rail with its channels', async () => {
    const rail = pb.getByRole('navigation', { name: 'Servers' });
    await rail.getByRole('link', { name: 'Hearth Fans' }).waitFor();
    assert.equal(await rail.getByRole('link', { name: 'Hearth Fans' }).getAttribute('aria-current'), 'page');
    const nav = pb.getByRole('navigation', { name: 'Channels of Hearth Fans' });
    await nav.getByRole('link', { name: /general/ }).waitFor();
    assert.equal(await pb.getByRole('heading', { level: 1 }).textContent(), 'general');
  });

  it('sends a message that the other user sees live, with markdown and a mention', async () => {
    const box = pa.getByRole('textbox', { name: 'Message #general' });
    await box.fill(`hello **bold** <@${bob.id}>`);
    await box.press('Enter');
    const mine = pa.locator('.msg', { hasText: 'hello bold' });
    await mine.waitFor();
    assert.equal(await box.inputValue(), '', 'the box is cleared');
    const theirs = pb.locator('.msg', { hasText: 'hello bold' });
    await theirs.waitFor();
    assert.equal(await theirs.locator('strong').textContent(), 'bold');
    assert.equal(await theirs.locator('.mention').textContent(), '@Bob');
    // A message that mentions you is highlighted; for its author it is not.
    assert.ok(await theirs.evaluate((el) => el.classList.contains('mentioned')));
    assert.ok(!(await mine.evaluate((el) => el.classList.contains('mentioned'))));
    assert.equal(await theirs.locator('.author').textContent(), 'Alice');
  });

  it('groups consecutive messages of one author under one header', async () => {
    const box = pa.getByRole('textbox', { name: 'Message #general' });
    await box.fill('second line');
    await box.press('Enter');
    await box.fill('third line');
    await box.press('Enter');
    const third = pb.locator('.msg', { hasText: 'third line' });
    await third.waitFor();
    const second = pb.locator('.msg', { hasText: 'second line' });
    assert.ok(!(await second.evaluate((el) => el.classList.contains('group-start'))), 'a continuation has no header');
    assert.equal(await third.locator('.msg-head').count(), 0);
    // One day separator above the first message of the day.
    assert.equal(await pb.locator('.day-sep').count(), 1);
    // Bob answers: a new group starts.
    const bbox = pb.getByRole('textbox', { name: 'Message #general' });
    await bbox.fill('hi Alice');
    await bbox.press('Enter');
    const reply = pa.locator('.msg', { hasText: 'hi Alice' });
    await reply.waitFor();
    assert.ok(await reply.evaluate((el) => el.classList.contains('group-start')));
    assert.equal(await reply.locator('.author').textContent(), 'Bob');
  });

  it('shows who is typing', async () => {
    await pb.getByRole('textbox', { name: 'Message #general' }).pressSequentially('I am typ', { delay: 20 });
    await pa.locator('.typing', { hasText: 'Bob is typing…' }).waitFor();
    await pb.getByRole('textbox', { name: 'Message #general' }).fill('');
    // Sending a message ends the indicator at once for the others.
    await pb.getByRole('textbox', { name: 'Message #general' }).fill('typed it');
    await pb.getByRole('textbox', { name: 'Message #general' }).press('Enter');
    await pa.locator('.msg', { hasText: 'typed it' }).waitFor();
    await pa.locator('.typing', { hasText: 'Bob is typing…' }).waitFor({ state: 'detached', timeout: 3000 }).catch(async () => {
      assert.equal(await pa.locator('.typing').textContent(), '');
    });
  });

  it('edits the last message with the Up arrow; the other user sees it edited', async () => {
    const box = pa.getByRole('textbox', { name: 'Message #general' });
    await box.focus();
    await box.press('ArrowUp');
    const edit = pa.getByRole('textbox', { name: 'Edit message' });
    await edit.waitFor();
    assert.equal(await edit.inputValue(), 'third line');
    await edit.fill('third line, fixed');
    await edit.press('Enter');
    const theirs = pb.locator('.msg', { hasText: 'third line, fixed' });
    await theirs.waitFor();
    assert.equal(await theirs.locator('.edited').textContent(), '(edited)');
    // Focus went back to the message box.
    assert.equal(await pa.evaluate(() => document.activeElement.id), 'composer-input');
    // Escape cancels an edit without a change.
    await box.press('ArrowUp');
    await edit.waitFor();
    await edit.press('Escape');
    await pa.getByRole('textbox', { name: 'Edit message' }).waitFor({ state: 'detached' });
    assert.equal(await pa.locator('.msg', { hasText: 'third line, fixed' }).count(), 1);
  });

  it('deletes a message from the keyboard; it disappears for the other user', async () => {
    const box = pa.getByRole('textbox', { name: 'Message #general' });
    await box.fill('a message to delete');
    await box.press('Enter');
    await pb.locator('.msg', { hasText: 'a message to delete' }).waitFor();
    const msg = pa.locator('.msg', { hasText: 'a message to delete' });
    await msg.focus();
    await pa.keyboard.press('Delete');
    const dlg = pa.getByRole('dialog', { name: 'Delete Message' });
    await dlg.waitFor();
    await dlg.getByRole('button', { name: 'Delete' }).click();
    await pb.locator('.msg', { hasText: 'a message to delete' }).waitFor({ state: 'detached' });
    await msg.waitFor({ state: 'detached' });
  });

  it('creates a category and a channel in it; the other user sees them live', async () => {
    await pa.getByRole('button', { name: 'Hearth Fans' }).click();
    await pa.getByRole('menuitem', { name: 'Create Category' }).click();
    let dlg = pa.getByRole('dialog', { name: 'Create Category' });
    await dlg.getByLabel('Category name').fill('Projects');
    await dlg.getByRole('button', { name: 'Create Category' }).click();
    const cat = pb.getByRole('button', { name: 'Projects' });
    await cat.waitFor();
    assert.equal(await cat.getAttribute('aria-expanded'), 'true');
    await pa.getByRole('button', { name: 'Create channel in Projects' }).click();
    dlg = pa.getByRole('dialog', { name: 'Create Channel' });
    await dlg.getByLabel('Channel name').fill('Road Map');
    assert.equal(await dlg.getByLabel('Category').inputValue(), await pa.evaluate(() => [...document.querySelectorAll('#channels ul[id^=cat-]')][0].id.slice(4)));
    await dlg.getByRole('button', { name: 'Create Channel' }).click();
    // The creator lands in the new channel (names are folded as Discord folds them).
    await pa.getByRole('heading', { level: 1, name: 'road-map' }).waitFor();
    const link = pb.locator(`#channels ul[id^=cat-] a.channel`, { hasText: 'road-map' });
    await link.waitFor();
    // Collapsing the category hides its channels (unless unread), and remembers it.
    await cat.click();
    assert.equal(await pb.getByRole('button', { name: 'Projects' }).getAttribute('aria-expanded'), 'false');
    await link.waitFor({ state: 'detached' });
    await pb.getByRole('button', { name: 'Projects' }).click();
    await link.waitFor();
  });

  it('marks unread channels and counts mentions; opening the channel clears them', async () => {
    // Bob is in #general; Alice writes in #road-map, then mentions Bob there.
    const roadmap = pb.locator('#channels a.channel', { hasText: 'road-map' });
    await pa.getByRole('textbox', { name: 'Message #road-map' }).fill('plans');
    await pa.getByRole('textbox', { name: 'Message #road-map' }).press('Enter');
    await pb.locator('#channels a.channel.unread', { hasText: 'road-map' }).waitFor();
    assert.match(await roadmap.getAttribute('aria-label'), /unread/);
    await pa.getByRole('textbox', { name: 'Message #road-map' }).fill(`<@${bob.id}> look`);
    await pa.getByRole('textbox', { name: 'Message #road-map' }).press('Enter');
    await roadmap.locator('.badge', { hasText: '1' }).waitFor();
    assert.match(await roadmap.getAttribute('aria-label'), /1 mention/);
    // The guild in the rail shows the count too (Bob is looking at this guild).
    await pb.getByRole('link', { name: 'Hearth Fans, 1 mention' }).waitFor();
    await roadmap.click();
    await pb.getByRole('heading', { level: 1, name: 'road-map' }).waitFor();
    await pb.locator('#channels a.channel.unread').waitFor({ state: 'detached' });
    assert.equal(await roadmap.locator('.badge').count(), 0);
    await pb.getByRole('link', { name: 'Hearth Fans', exact: true }).waitFor();
    await screenshot(pb, 'desktop-chat');
  });
});
