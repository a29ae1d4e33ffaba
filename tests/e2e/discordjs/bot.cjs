// A discord.js v14 bot pointed at a real hearthd, driven by tests/e2e/test_discordjs.py.
// It prints one JSON object per step on stdout; the Python side asserts on them.
'use strict';
const { Client, Events, GatewayIntentBits } = require('discord.js');
const { execFileSync } = require('node:child_process');
const WebSocket = require('ws');

const { HEARTH_BASE: base, USER_TOKEN: userToken, BOT_TOKEN: botToken,
        CHANNEL_ID: channelId, HEARTHD_PID: serverPid } = process.env;

function log(obj) {
    process.stdout.write(JSON.stringify(obj) + '\n');
}

async function api(method, path, body) {
    const r = await fetch(`${base}/api/v10${path}`, {
        method,
        headers: { Authorization: userToken, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
    return r.status === 204 ? null : r.json();
}

// Posts a message as the user while blocking this process's event loop, so that the bot
// cannot reconnect before the message is stored: it is certainly sent "while away".
function postBlocking(content) {
    const script = `fetch(${JSON.stringify(`${base}/api/v10/channels/${channelId}/messages`)}, {
        method: 'POST',
        headers: { Authorization: ${JSON.stringify(userToken)}, 'Content-Type': 'application/json' },
        body: JSON.stringify({ content: ${JSON.stringify(content)} }),
    }).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1));`;
    execFileSync(process.execPath, ['-e', script], { stdio: 'inherit', timeout: 10000 });
}

// The user's own gateway session, used to change its presence.
async function userSetsPresence() {
    const { url } = await api('GET', '/gateway');
    const ws = new WebSocket(`${url}?v=10&encoding=json`);
    ws.on('message', (data) => {
        const p = JSON.parse(data.toString());
        if (p.op === 10) {
            ws.send(JSON.stringify({ op: 2, d: { token: userToken, properties: {} } }));
        } else if (p.t === 'READY') {
            ws.send(JSON.stringify({ op: 3, d: { since: null, afk: false, status: 'dnd',
                activities: [{ name: 'testing Hearth', type: 0 }] } }));
        }
    });
    return ws;
}

const client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages,
              GatewayIntentBits.MessageContent, GatewayIntentBits.GuildMessageTyping,
              GatewayIntentBits.GuildPresences, GatewayIntentBits.GuildMembers],
    rest: { api: `${base}/api`, version: '10' },
});

const deadline = setTimeout(() => {
    log({ step: 'timeout' });
    process.exit(2);
}, 60000);

let userWs = null;
let postedWhileAway = false;
let awayReceived = false;
let resumed = false;

function maybeFinish() {
    if (!awayReceived || !resumed) return;
    clearTimeout(deadline);
    log({ step: 'done' });
    if (userWs) userWs.close(1000);
    client.destroy().then(() => process.exit(0));
}

client.once(Events.ClientReady, async (c) => {
    const ch = c.channels.cache.get(channelId);
    log({ step: 'ready', user: c.user.id, guilds: c.guilds.cache.size,
          channels: c.channels.cache.size, channelCached: Boolean(ch),
          channelName: ch ? ch.name : null });
    await api('POST', `/channels/${channelId}/typing`);
});

client.on(Events.TypingStart, async (typing) => {
    log({ step: 'typing', channel: typing.channel.id, user: typing.user.id });
    if (!userWs) userWs = await userSetsPresence();
});

client.on(Events.PresenceUpdate, async (_old, now) => {
    if (now.status !== 'dnd') return;
    log({ step: 'presence', user: now.userId, status: now.status,
          activity: now.activities.length ? now.activities[0].name : null });
    await api('POST', `/channels/${channelId}/messages`, { content: '!ping' });
});

client.on(Events.MessageCreate, async (msg) => {
    if (msg.author.id === client.user.id) return;
    if (msg.content === '!ping') {
        log({ step: 'ping', author: msg.author.id, guild: msg.guildId });
        const reply = await msg.reply('pong');
        log({ step: 'replied', id: reply.id, content: reply.content });
        process.kill(Number(serverPid), 'SIGUSR1'); // the server closes us with 4000
    } else if (msg.content === 'while-away') {
        awayReceived = true;
        log({ step: 'away-received', id: msg.id });
        maybeFinish();
    }
});

client.on(Events.ShardReconnecting, () => {
    if (postedWhileAway) return;
    postedWhileAway = true;
    postBlocking('while-away');
    log({ step: 'posted-while-away' });
});

client.on(Events.ShardResume, (_id, replayed) => {
    resumed = true;
    log({ step: 'resumed', replayed });
    maybeFinish();
});

client.on(Events.ShardDisconnect, (ev) => log({ step: 'disconnect', code: ev.code }));

client.login(botToken).catch((e) => {
    log({ step: 'login-failed', error: String(e) });
    process.exit(3);
});
