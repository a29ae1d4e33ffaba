// discord.js v14 driving Hearth's REST API through its own managers, driven by
// tests/e2e/test_discordjs_rest.py. The bot logs in (as any bot does) but every step below
// goes through REST: fetches use `force: true` so nothing is answered from the cache.
// It prints one JSON object per step on stdout; the Python side asserts on them and then
// re-checks the server's state with its own REST client.
//
// MODE=main  (default) the whole tour; the ids it needs come in CONFIG (JSON).
// MODE=burst a burst of sends against a server with rate limits on.
'use strict';
const {
    AuditLogEvent, ChannelType, Client, DiscordAPIError, Events, GatewayIntentBits, MessageType,
    OverwriteType, PermissionFlagsBits, RESTEvents, ThreadAutoArchiveDuration,
} = require('discord.js');

const { HEARTH_BASE: base, BOT_TOKEN: botToken, MODE: mode = 'main' } = process.env;
const cfg = JSON.parse(process.env.CONFIG || '{}');

function log(obj) {
    // Permission bitfields are BigInts: written as decimal strings, as Discord sends them.
    const json = JSON.stringify(obj, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
    process.stdout.write(json + '\n');
}

// The request path of a DiscordAPIError, without the server's origin and /api/v10.
function apiPath(url) {
    return String(url).replace(`${base}/api/v10`, '');
}

function describeError(e) {
    return {
        isDiscordAPIError: e instanceof DiscordAPIError, name: e.name, code: e.code ?? null,
        status: e.status ?? null, method: e.method ?? null, path: e.url ? apiPath(e.url) : null,
        message: e.message, raw: e.rawError ?? null,
    };
}

// Runs one step; an exception is reported as the step's `error` and the run goes on, so
// one server deviation does not hide the others.
async function step(name, fn) {
    try {
        log({ step: name, ...(await fn()) });
    } catch (e) {
        log({ step: name, error: describeError(e),
              stack: String(e.stack).split('\n').slice(0, 6) });
    }
}

// An action that must be refused: reports what discord.js threw (or that it did not).
async function refused(fn) {
    try {
        await fn();
        return { threw: false };
    } catch (e) {
        return { threw: true, ...describeError(e) };
    }
}

function ids(collection) {
    return [...collection.keys()];
}

function overwriteData(ow) {
    return { id: ow.id, type: ow.type, allow: ow.allow.bitfield, deny: ow.deny.bitfield };
}

const client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessages,
              GatewayIntentBits.GuildMessageReactions, GatewayIntentBits.GuildModeration,
              GatewayIntentBits.DirectMessages, GatewayIntentBits.MessageContent],
    rest: { api: `${base}/api`, version: '10' },
});

async function tour() {
    const P = PermissionFlagsBits;
    let guild, general, target, reply, role, bobMember, botMessage, privateThread;

    await step('guild', async () => {
        guild = await client.guilds.fetch({ guild: cfg.guild, force: true });
        const me = await guild.members.fetchMe({ force: true });
        const listed = await guild.members.list({ limit: 10, cache: true });
        bobMember = await guild.members.fetch({ user: cfg.bob, force: true });
        return {
            id: guild.id, name: guild.name, ownerId: guild.ownerId, roles: ids(guild.roles.cache),
            everyone: guild.roles.everyone.permissions.bitfield,
            me: me.id, myRoles: ids(me.roles.cache), myPermissions: me.permissions.bitfield,
            botRole: me.roles.botRole ? me.roles.botRole.id : null, tag: me.user.tag,
            listed: ids(listed), bob: { id: bobMember.id, username: bobMember.user.username,
                                        joinedAt: bobMember.joinedAt.toISOString() },
        };
    });

    await step('history', async () => {
        const hist = await client.channels.fetch(cfg.history, { force: true });
        const pages = [];
        let before;
        for (;;) {
            const page = await hist.messages.fetch({ limit: 3, before, cache: false });
            if (page.size === 0) break;
            pages.push([...page.values()].map((m) => m.content));
            before = page.lastKey();
        }
        const newest = await hist.messages.fetch({ limit: 100 });
        const order = [...newest.values()];
        const oldest = order[order.length - 1];
        const after = await hist.messages.fetch({ after: oldest.id, limit: 2 });
        const mid = order[3];
        const around = await hist.messages.fetch({ around: mid.id, limit: 3 });
        const one = await hist.messages.fetch({ message: mid.id, force: true });
        return {
            channel: hist.id, name: hist.name, type: hist.type, lastMessageId: hist.lastMessageId,
            pages,
            after: [...after.values()].map((m) => m.content),
            around: [...around.values()].map((m) => m.content),
            one: { id: one.id, content: one.content, author: one.author.id,
                   createdAt: one.createdAt.toISOString(), channelId: one.channelId,
                   guildId: one.guildId },
        };
    });

    await step('reply', async () => {
        general = await client.channels.fetch(cfg.general, { force: true });
        target = await general.messages.fetch({ message: cfg.target, force: true });
        reply = await target.reply({
            content: `hi <@${cfg.bob}> <@${cfg.carol}> @everyone`,
            allowedMentions: { parse: ['everyone'], users: [cfg.bob], repliedUser: true },
        });
        const ref = await reply.fetchReference();
        return {
            id: reply.id, type: reply.type, isReply: reply.type === MessageType.Reply,
            content: reply.content, author: reply.author.id, channelId: reply.channelId,
            reference: reply.reference, referenced: { id: ref.id, content: ref.content },
            mentionedUsers: ids(reply.mentions.users).sort(),
            mentionedMembers: ids(reply.mentions.members).sort(),
            repliedUser: reply.mentions.repliedUser ? reply.mentions.repliedUser.id : null,
            everyone: reply.mentions.everyone,
        };
    });

    await step('edit', async () => {
        const edited = await reply.edit({ content: 'edited reply' });
        return {
            id: edited.id, content: edited.content, edited: edited.editedTimestamp !== null,
            editedAfterCreate: edited.editedTimestamp >= edited.createdTimestamp,
            type: edited.type, repliedUser: edited.mentions.repliedUser?.id ?? null,
        };
    });

    await step('react', async () => {
        const r = await target.react('👍');
        const party = await target.react('🎉');
        await party.users.remove(); // the bot's own 🎉 again
        const fresh = await general.messages.fetch({ message: target.id, force: true });
        const thumbs = fresh.reactions.cache.get('👍');
        const users = await thumbs.users.fetch();
        return {
            emoji: r.emoji.name, reactions: ids(fresh.reactions.cache),
            count: thumbs.count, me: thumbs.me, users: ids(users).sort(),
        };
    });

    await step('pin', async () => {
        await target.pin('pinned by discord.js');
        const fresh = await general.messages.fetch({ message: target.id, force: true });
        const pins = await general.messages.fetchPins();
        const latest = (await general.messages.fetch({ limit: 1, cache: false })).first();
        return {
            pinned: fresh.pinned,
            pins: pins.items.map((p) => ({ id: p.message.id, pinnedAt: p.pinnedAt.toISOString() })),
            hasMore: pins.hasMore,
            notice: { type: latest.type,
                      isPinNotice: latest.type === MessageType.ChannelPinnedMessage,
                      author: latest.author.id, system: latest.system,
                      reference: latest.reference?.messageId ?? null },
        };
    });

    await step('delete', async () => {
        const mine = await general.send('short-lived');
        await mine.delete();
        const gone = await refused(() => general.messages.fetch({ message: mine.id, force: true }));
        // Someone else's message: needs MANAGE_MESSAGES, which the bot holds.
        await general.messages.delete(cfg.deleteTarget);
        return { mine: mine.id, gone, other: cfg.deleteTarget };
    });

    await step('role', async () => {
        role = await guild.roles.create({
            name: 'djs role', colors: { primaryColor: 0x3498db }, hoist: true, mentionable: true,
            permissions: [P.SendMessages, P.AddReactions], reason: 'made by discord.js ✓',
        });
        const created = {
            id: role.id, name: role.name, color: role.color, hoist: role.hoist,
            mentionable: role.mentionable, managed: role.managed, position: role.position,
            permissions: role.permissions.bitfield,
        };
        await bobMember.roles.add(role, 'given by discord.js');
        const bob = await guild.members.fetch({ user: cfg.bob, force: true });
        const renamed = await role.edit({ name: 'djs role 2', colors: { primaryColor: 0xe91e63 } });
        const fetched = await guild.roles.fetch(role.id, { force: true });
        botMessage = await general.send({ content: `role ping <@&${role.id}>`,
                                          allowedMentions: { parse: ['roles'] } });
        return {
            created, bobRoles: ids(bob.roles.cache), renamed: renamed.name,
            fetched: { id: fetched.id, name: fetched.name,
                       permissions: fetched.permissions.bitfield,
                       color: fetched.colors.primaryColor, hexColor: fetched.hexColor },
            ping: { id: botMessage.id, roles: ids(botMessage.mentions.roles) },
        };
    });

    await step('overwrite', async () => {
        const locked = await client.channels.fetch(cfg.locked, { force: true });
        await locked.permissionOverwrites.create(role, { SendMessages: false, AddReactions: true },
                                                 { reason: 'overwrite by discord.js' });
        await locked.permissionOverwrites.edit(bobMember, { AddReactions: false },
                                               { type: OverwriteType.Member });
        const fresh = await client.channels.fetch(cfg.locked, { force: true });
        const bob = await guild.members.fetch({ user: cfg.bob, force: true });
        const perms = fresh.permissionsFor(bob);
        return {
            overwrites: [...fresh.permissionOverwrites.cache.values()].map(overwriteData),
            bobCan: { view: perms.has(P.ViewChannel), send: perms.has(P.SendMessages),
                      react: perms.has(P.AddReactions) },
        };
    });

    await step('ban', async () => {
        await guild.members.ban(cfg.carol, { reason: 'spam', deleteMessageSeconds: 3600 });
        const ban = await guild.bans.fetch({ user: cfg.carol, force: true });
        const all = await guild.bans.fetch();
        await guild.members.unban(cfg.carol, 'forgiven');
        const after = await refused(() => guild.bans.fetch({ user: cfg.carol, force: true }));
        const none = await guild.bans.fetch();
        return {
            ban: { user: ban.user.id, reason: ban.reason }, listed: ids(all),
            afterUnban: after, listedAfter: ids(none),
        };
    });

    await step('thread', async () => {
        const thread = await general.threads.create({
            name: 'djs thread', autoArchiveDuration: ThreadAutoArchiveDuration.OneHour,
            type: ChannelType.PublicThread, reason: 'thread by discord.js',
        });
        const posted = await thread.send('in the thread');
        const members = await thread.members.fetch();
        const again = await client.channels.fetch(thread.id, { force: true });
        const fromMessage = await botMessage.startThread({ name: 'from a message' });
        const second = await fromMessage.send('under the message');
        const parentMessage = await general.messages.fetch({ message: botMessage.id, force: true });
        const priv = await general.threads.create({
            name: 'private', type: ChannelType.PrivateThread, invitable: false });
        await priv.members.add(cfg.bob);
        privateThread = priv;
        const privMembers = await priv.members.fetch();
        return {
            thread: { id: thread.id, type: thread.type, name: thread.name,
                      parentId: thread.parentId, ownerId: thread.ownerId, archived: thread.archived,
                      autoArchiveDuration: thread.autoArchiveDuration, guildId: thread.guildId },
            again: { messageCount: again.messageCount, memberCount: again.memberCount,
                     locked: again.locked, createdAt: again.createdAt.toISOString(),
                     lastMessageId: again.lastMessageId },
            posted: { id: posted.id, channelId: posted.channelId, content: posted.content },
            members: ids(members),
            fromMessage: { id: fromMessage.id, type: fromMessage.type,
                           parentId: fromMessage.parentId, name: fromMessage.name },
            second: { id: second.id, channelId: second.channelId },
            hasThread: parentMessage.hasThread, threadOfMessage: parentMessage.thread?.id ?? null,
            private: { id: priv.id, type: priv.type, invitable: priv.invitable,
                       members: ids(privMembers).sort() },
        };
    });

    await step('dm', async () => {
        const bob = await client.users.fetch(cfg.bob, { force: true });
        const dm = await bob.createDM(true);
        const sent = await bob.send('hello bob');
        const history = await dm.messages.fetch({ limit: 10 });
        return {
            user: { id: bob.id, username: bob.username, bot: bob.bot },
            dm: { id: dm.id, type: dm.type, recipientId: dm.recipientId,
                  recipient: dm.recipient ? dm.recipient.username : null },
            sent: { id: sent.id, channelId: sent.channelId, content: sent.content,
                    guildId: sent.guildId },
            history: [...history.values()].map((m) => m.content),
        };
    });

    // Undoing: unpin, remove every reaction, drop an overwrite, archive a thread; and the
    // audit log as discord.js parses it.
    await step('undo', async () => {
        await reply.pin();
        await reply.react('👀');
        await reply.react('✅');
        // (fetch patches the one cached Message object: read it before it changes again)
        const pinnedReply = await general.messages.fetch({ message: reply.id, force: true });
        const before = { pinned: pinnedReply.pinned, reactions: ids(pinnedReply.reactions.cache) };
        await reply.unpin('unpinned by discord.js');
        await reply.reactions.removeAll();
        const fresh = await general.messages.fetch({ message: reply.id, force: true });
        const locked = await client.channels.fetch(cfg.locked, { force: true });
        await locked.permissionOverwrites.create(cfg.alice, { AddReactions: false },
                                                 { type: OverwriteType.Member });
        const added = ids((await client.channels.fetch(cfg.locked, { force: true }))
            .permissionOverwrites.cache).sort();
        await locked.permissionOverwrites.delete(cfg.alice, 'dropped by discord.js');
        const after = await client.channels.fetch(cfg.locked, { force: true });
        const archived = await privateThread.setArchived(true, 'archived by discord.js');
        const logs = await guild.fetchAuditLogs({ type: AuditLogEvent.RoleCreate, limit: 5 });
        const entry = logs.entries.first();
        const unpins = await guild.fetchAuditLogs({ type: AuditLogEvent.MessageUnpin });
        return {
            before,
            after: { pinned: fresh.pinned, reactions: ids(fresh.reactions.cache) },
            overwrites: { added,
                          after: ids(after.permissionOverwrites.cache).sort() },
            archived: { id: archived.id, archived: archived.archived },
            audit: { size: logs.entries.size, action: entry.action, actionType: entry.actionType,
                     targetType: entry.targetType, targetId: entry.targetId,
                     executorId: entry.executorId, reason: entry.reason,
                     changes: entry.changes.map((c) => c.key).sort() },
            unpin: unpins.entries.map((e) => ({ targetId: e.targetId, reason: e.reason,
                                                channel: e.extra?.channel?.id ?? null,
                                                messageId: e.extra?.messageId ?? null })),
        };
    });

    await step('refused', async () => ({
        kick: await refused(() => guild.members.kick(cfg.bob, 'no KICK_MEMBERS')),
        adminRole: await refused(() => guild.roles.create({ name: 'admin grab',
                                                            permissions: [P.Administrator] })),
        banOwner: await refused(() => guild.members.ban(cfg.alice)),
        editOthers: await refused(() => target.edit('not mine')),
        unknownMessage: await refused(() => general.messages.fetch({ message: '1', force: true })),
        badEmoji: await refused(() => target.react('nope')),
        badLimit: await refused(() => general.messages.fetch({ limit: 101 })),
    }));
}

// Sends BURST messages at once into CHANNEL_ID on a server with rate limits on. discord.js
// must read the X-RateLimit-* headers and queue: every send succeeds, none meets a 429.
async function burst() {
    const statuses = {};
    const limited = [];
    client.rest.on(RESTEvents.Response, (req, res) => {
        if (req.route.endsWith('/messages') && req.method.toLowerCase() === 'post') {
            statuses[res.status] = (statuses[res.status] || 0) + 1;
        }
    });
    client.rest.on(RESTEvents.RateLimited, (info) => {
        limited.push({ route: info.route, limit: info.limit, timeToReset: info.timeToReset,
                       global: info.global });
    });
    await step('burst', async () => {
        const channel = await client.channels.fetch(cfg.channel, { force: true });
        const n = cfg.count;
        const t0 = Date.now();
        const results = await Promise.allSettled(
            Array.from({ length: n }, (_v, i) => channel.send(`burst-${i}`)));
        const elapsedMs = Date.now() - t0;
        return {
            sent: results.filter((r) => r.status === 'fulfilled').map((r) => r.value.id),
            failed: results.filter((r) => r.status === 'rejected')
                .map((r) => describeError(r.reason)),
            statuses, limited, elapsedMs,
        };
    });
}

const deadline = setTimeout(() => {
    log({ step: 'timeout' });
    process.exit(2);
}, 45000);

client.once(Events.ClientReady, async (c) => {
    log({ step: 'ready', user: c.user.id, guilds: c.guilds.cache.size });
    if (mode === 'burst') await burst();
    else await tour();
    clearTimeout(deadline);
    log({ step: 'done' });
    await client.destroy();
    process.exit(0);
});

client.login(botToken).catch((e) => {
    log({ step: 'login-failed', error: String(e) });
    process.exit(3);
});
