/*
 * Drag and drop: one user drops an image on the message list (and another on the
 * composer); it waits in the box as a chip, is sent with a caption, and the other user
 * sees it inline. The drop is dispatched with a DataTransfer built in the page.
 */
import { describe, it, before, after } from 'node:test';
import { Server, launch, openPage, closePages, openChannel, assert, png } from './harness.mjs';

/* Fire dragenter, dragover and drop on target carrying one file built from bytes. */
async function dropFile(page, target, name, type, bytes) {
  const dt = await page.evaluateHandle(
    ([n, t, b]) => {
      const d = new DataTransfer();
      d.items.add(new File([new Uint8Array(b)], n, { type: t }));
      return d;
    },
    [name, type, [...bytes]],
  );
  for (const ev of ['dragenter', 'dragover', 'drop']) await target.dispatchEvent(ev, { dataTransfer: dt });
  await dt.dispose();
}

describe('drag and drop uploads', () => {
  let server, browser, alice, bob, guild, pa, pb;

  before(async () => {
    server = await new Server().start();
    browser = await launch();
    alice = await server.register('alice', 'Alice');
    bob = await server.register('bob', 'Bob');
    guild = await server.ok('POST', '/guilds', alice.token, { name: 'Darkroom' });
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

  for (const [where, name, size, colour, caption] of [
    ['message list', 'dropped.png', [48, 24], [20, 120, 230], 'fresh from the drop'],
    ['composer', 'boxed.png', [16, 40], [200, 30, 90], 'dropped on the box'],
  ]) {
    it(`an image dropped on the ${where} is sent and shown inline for the other user`, async () => {
      const target = where === 'composer' ? pa.getByRole('textbox', { name: 'Message #general' }) : pa.locator('#messages');
      await dropFile(pa, target, name, 'image/png', png(...size, colour));
      const chips = pa.getByRole('list', { name: 'Files to upload' });
      await chips.getByText(name).waitFor();
      assert.equal(await chips.getByRole('listitem').count(), 1);
      // The overlay is gone after the drop.
      assert.equal(await pa.locator('.drop-overlay').count(), 0);
      const box = pa.getByRole('textbox', { name: 'Message #general' });
      await box.fill(caption);
      await box.press('Enter');
      await chips.waitFor({ state: 'hidden' });

      const theirs = pb.locator('.msg', { hasText: caption });
      await theirs.waitFor();
      const img = theirs.getByRole('img', { name });
      await img.waitFor();
      await pb.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle());
      assert.match(await img.getAttribute('src'), /^blob:/);
      assert.deepEqual(await img.evaluate((el) => [el.naturalWidth, el.naturalHeight]), size);
      const [m] = await server.ok('GET', `/channels/${guild.system_channel_id}/messages?limit=1`, bob.token);
      assert.equal(m.content, caption);
      assert.deepEqual(
        m.attachments.map((a) => [a.filename, a.content_type?.split(';')[0], a.width, a.height]),
        [[name, 'image/png', ...size]],
      );
    });
  }
});
