/*
 * Uploads: one user picks an image and a text file with the file picker and sends them
 * with a caption; the other sees the image inline (fetched with the token), opens it
 * large, and sees the text file as a download.
 */
import { describe, it, before, after } from 'node:test';
import { Server, launch, openPage, closePages, openChannel, assert, png } from './harness.mjs';

describe('uploads', () => {
  let server, browser, alice, bob, guild, pa, pb;

  before(async () => {
    server = await new Server().start();
    browser = await launch();
    alice = await server.register('alice', 'Alice');
    bob = await server.register('bob', 'Bob');
    guild = await server.ok('POST', '/guilds', alice.token, { name: 'Gallery' });
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

  it('sends an image and a file from the picker; the other user sees the image inline', async () => {
    const chooser = pa.waitForEvent('filechooser');
    await pa.getByRole('button', { name: 'Upload a file' }).click();
    await (await chooser).setFiles([
      { name: 'sunset.png', mimeType: 'image/png', buffer: png(64, 32, [230, 120, 20]) },
      { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('remember the milk\n') },
    ]);
    const chips = pa.getByRole('list', { name: 'Files to upload' });
    await chips.getByText('sunset.png').waitFor();
    await chips.getByText('notes.txt').waitFor();
    const box = pa.getByRole('textbox', { name: 'Message #general' });
    await box.fill('look at this');
    await box.press('Enter');
    assert.ok(await chips.isHidden(), 'the files are cleared from the box');

    const theirs = pb.locator('.msg', { hasText: 'look at this' });
    await theirs.waitFor();
    const img = theirs.getByRole('img', { name: 'sunset.png' });
    await img.waitFor();
    // Loaded from a blob fetched with the token (an <img> cannot send Authorization).
    await pb.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle());
    assert.match(await img.getAttribute('src'), /^blob:/);
    assert.deepEqual(await img.evaluate((el) => [el.naturalWidth, el.naturalHeight]), [64, 32]);
    // The text file is a download link with its size.
    await theirs.locator('.file').getByRole('button', { name: 'notes.txt' }).waitFor();
    assert.match(await theirs.locator('.file small').textContent(), /18 B|18 bytes/);
    // The server has both, with the image's size.
    const [m] = await server.ok('GET', `/channels/${guild.system_channel_id}/messages?limit=1`, bob.token);
    assert.deepEqual(
      m.attachments.map((a) => [a.filename, a.content_type?.split(';')[0], a.width ?? null, a.height ?? null]),
      [
        ['sunset.png', 'image/png', 64, 32],
        ['notes.txt', 'text/plain', null, null],
      ],
    );
    // Clicking the image opens it large.
    await theirs.getByRole('link', { name: 'Image sunset.png, open' }).click();
    const dlg = pb.getByRole('dialog', { name: 'sunset.png' });
    await dlg.getByRole('img', { name: 'sunset.png' }).waitFor();
    await dlg.getByRole('button', { name: 'Close' }).click();
  });

  it('downloads the file with the token', async () => {
    const theirs = pb.locator('.msg', { hasText: 'look at this' });
    const download = pb.waitForEvent('download');
    await theirs.locator('.file').getByRole('button', { name: 'notes.txt' }).click();
    const d = await download;
    assert.equal(d.suggestedFilename(), 'notes.txt');
    const { readFileSync } = await import('node:fs');
    assert.equal(readFileSync(await d.path(), 'utf8'), 'remember the milk\n');
  });
});
