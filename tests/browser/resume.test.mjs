/*
 * Live updates survive a dropped connection: the client resumes its gateway session and
 * shows what was posted meanwhile. "Sleep" is a browser without network (what a laptop
 * waking up has for a moment) while the server closes every gateway connection with 4000
 * (kill -USR1): the client cannot reconnect until the network is back, then resumes.
 */
import { describe, it, before, after } from 'node:test';
import { Server, launch, openPage, closePages, openChannel, sleep, assert } from './harness.mjs';

/* Records the gateway payloads a page sends and receives. */
function watchGateway(page) {
  const log = { sent: [], received: [] };
  page.on('websocket', (ws) => {
    ws.on('close', () => (log.closed = true));
    ws.on('framesent', (f) => log.sent.push(JSON.parse(f.payload)));
    ws.on('framereceived', (f) => log.received.push(JSON.parse(f.payload)));
  });
  return log;
}

/* Takes the page's network away (the browser fires 'offline'); the returned function
 * gives it back ('online'). Reconnection attempts fail meanwhile, as the browser says on
 * its console: those errors are expected. */
async function sleepNetwork(page) {
  page.allowAlways(/WebSocket connection to .* failed/);
  await page.context().setOffline(true);
  return () => page.context().setOffline(false);
}

async function setup(server, browser, name) {
  const alice = await server.register('alice', 'Alice');
  const bob = await server.register('bob', 'Bob');
  const guild = await server.ok('POST', '/guilds', alice.token, { name });
  await server.join(guild, alice, bob);
  const pb = await openPage(browser, server, { token: bob.token });
  const log = watchGateway(pb);
  await openChannel(pb, guild.id, guild.system_channel_id);
  await pb.waitForFunction(() => document.querySelector('.conn-banner') && !document.querySelector('.conn-banner.show'));
  return { alice, bob, guild, pb, log };
}

describe('gateway resume', () => {
  let browser;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  it('resumes after the server drops the connection (SIGUSR1) and keeps getting messages', async () => {
    const server = await new Server().start();
    const { alice, guild, pb, log } = await setup(server, browser, 'Resume A');
    try {
      server.signal('SIGUSR1');
      await waitFor(() => log.sent.some((p) => p.op === 6), 'a RESUME');
      await waitFor(() => log.received.some((p) => p.t === 'RESUMED'), 'RESUMED');
      assert.equal(log.sent.filter((p) => p.op === 2).length, 1, 'identified once only');
      await server.ok('POST', `/channels/${guild.system_channel_id}/messages`, alice.token, { content: 'after the reconnect' });
      await pb.locator('.msg', { hasText: 'after the reconnect' }).waitFor();
    } finally {
      await closePages(pb);
      await server.stop();
    }
  });

  it('catches up after sleeping: messages posted while asleep appear once, by replay', async () => {
    const server = await new Server().start();
    const { alice, guild, pb, log } = await setup(server, browser, 'Resume B');
    try {
      await server.ok('POST', `/channels/${guild.system_channel_id}/messages`, alice.token, { content: 'before sleep' });
      await pb.locator('.msg', { hasText: 'before sleep' }).waitFor();
      const wake = await sleepNetwork(pb);
      log.closed = false;
      server.signal('SIGUSR1');
      await waitFor(() => log.closed, 'the connection to close');
      for (const n of [1, 2, 3]) {
        await server.ok('POST', `/channels/${guild.system_channel_id}/messages`, alice.token, { content: `while asleep ${n}` });
      }
      const historyCalls = [];
      pb.on('request', (r) => r.url().includes('/messages?') && historyCalls.push(r.url()));
      await wake();
      for (const n of [1, 2, 3]) await pb.locator('.msg', { hasText: `while asleep ${n}` }).waitFor();
      const resume = log.sent.find((p) => p.op === 6);
      assert.ok(resume, 'the client sent RESUME');
      assert.ok(resume.d.seq >= 2 && resume.d.session_id, 'with its session and last seq');
      await waitFor(() => log.received.some((p) => p.t === 'RESUMED'), 'RESUMED');
      assert.deepEqual(historyCalls, [], 'the replay brought the messages, no reload');
      for (const n of [1, 2, 3]) assert.equal(await pb.locator('.msg', { hasText: `while asleep ${n}` }).count(), 1);
      // Still live afterwards.
      await server.ok('POST', `/channels/${guild.system_channel_id}/messages`, alice.token, { content: 'good morning' });
      await pb.locator('.msg', { hasText: 'good morning' }).waitFor();
    } finally {
      await closePages(pb);
      await server.stop();
    }
  });

  it('after a sleep longer than the session lives, identifies again and reloads what it shows', async () => {
    const server = await new Server(['--gateway-resume-seconds', '1']).start();
    const { alice, guild, pb, log } = await setup(server, browser, 'Resume C');
    try {
      const wake = await sleepNetwork(pb);
      log.closed = false;
      server.signal('SIGUSR1');
      await waitFor(() => log.closed, 'the connection to close');
      await server.ok('POST', `/channels/${guild.system_channel_id}/messages`, alice.token, { content: 'long asleep' });
      // The session lives 1 s after its connection closed: sleep past that.
      await sleep(3000);
      await wake();
      await pb.locator('.msg', { hasText: 'long asleep' }).waitFor();
      await waitFor(() => log.received.some((p) => p.op === 9), 'INVALID_SESSION');
      assert.equal(log.sent.filter((p) => p.op === 2).length, 2, 'identified again');
      await server.ok('POST', `/channels/${guild.system_channel_id}/messages`, alice.token, { content: 'still live' });
      await pb.locator('.msg', { hasText: 'still live' }).waitFor();
      assert.equal(await pb.locator('.msg', { hasText: 'long asleep' }).count(), 1);
    } finally {
      await closePages(pb);
      await server.stop();
    }
  });
});

async function waitFor(fn, what, ms = 10000) {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error('timed out waiting for ' + what);
    await sleep(25);
  }
}
