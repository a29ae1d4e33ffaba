/*
 * The client's state: what READY, GUILD_CREATE and later dispatches told us, the message
 * pages loaded so far, presences, typing, and read states. Views subscribe to topics with
 * on() and redraw their part when it is emitted; only this module changes the state.
 *
 * Read states are the client's own (Hearth keeps none on the server yet): the newest
 * message id read and the mentions since, per channel, kept in localStorage per user.
 */
import { cmpId, maxId } from './time.js';

const listeners = new Map();

export function on(topic, fn) {
  if (!listeners.has(topic)) listeners.set(topic, new Set());
  listeners.get(topic).add(fn);
  return () => listeners.get(topic).delete(fn);
}

export function emit(topic, payload) {
  for (const fn of listeners.get(topic) || []) fn(payload);
}

export const state = {
  me: null,
  guilds: new Map(), // id -> guild (roles: Map, channelIds: Set)
  guildOrder: [],
  channels: new Map(), // every channel we know: guild channels, threads, DMs
  dms: [], // ids of DMs and group DMs, newest activity first
  users: new Map(),
  members: new Map(), // guildId -> Map(userId -> member)
  presences: new Map(), // userId -> {status, activities}
  messages: new Map(), // channelId -> page
  typing: new Map(), // channelId -> Map(userId -> expiry ms)
  read: {},
  membersRequested: new Set(),
  conn: 'closed',
};

/* ---- read states ---- */

let readKey = null;
export function loadRead(userId) {
  readKey = 'hearth.read.' + userId;
  try {
    state.read = JSON.parse(localStorage.getItem(readKey)) || {};
  } catch {
    state.read = {};
  }
}

let saveTimer = 0;
function saveRead() {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(() => readKey && localStorage.setItem(readKey, JSON.stringify(state.read)), 300);
}

export function isUnread(ch) {
  if (!ch || !ch.last_message_id) return false;
  const r = state.read[ch.id];
  return !r || cmpId(ch.last_message_id, r.r || '0') > 0;
}

export const mentionCount = (id) => (state.read[id] && state.read[id].m) || 0;

export function markRead(channelId) {
  const ch = state.channels.get(channelId);
  if (!ch) return;
  const r = state.read[channelId] || {};
  const newest = ch.last_message_id || r.r;
  if (r.r === newest && !r.m) return;
  state.read[channelId] = { r: newest };
  saveRead();
  emit('read', channelId);
}

/* ---- users and members ---- */

export function putUser(u) {
  if (!u || !u.id) return u;
  const old = state.users.get(u.id);
  const merged = old ? Object.assign(old, u) : { ...u };
  state.users.set(u.id, merged);
  return merged;
}

function putMember(guildId, m) {
  if (!m || !m.user) return;
  putUser(m.user);
  if (!state.members.has(guildId)) state.members.set(guildId, new Map());
  const map = state.members.get(guildId);
  const old = map.get(m.user.id);
  map.set(m.user.id, old ? Object.assign(old, m) : { ...m });
}

export const member = (guildId, userId) => state.members.get(guildId)?.get(userId);

function putPresence(p) {
  if (!p || !p.user) return;
  state.presences.set(p.user.id, { status: p.status || 'offline', activities: p.activities || [] });
  if (p.user.username) putUser(p.user);
}

export const presenceOf = (userId) => state.presences.get(userId) || { status: 'offline', activities: [] };

/* ---- guilds and channels ---- */

function putChannel(ch) {
  const old = state.channels.get(ch.id);
  const merged = old ? Object.assign(old, ch) : { ...ch };
  state.channels.set(ch.id, merged);
  if (merged.guild_id) {
    const g = state.guilds.get(merged.guild_id);
    if (g) g.channelIds.add(merged.id);
  } else if (merged.type === 1 || merged.type === 3) {
    // `recipients` are the others: the gateway gives each of us our own view.
    (merged.recipients || []).forEach(putUser);
    if (!state.dms.includes(merged.id)) state.dms.unshift(merged.id);
  }
  return merged;
}

function putGuild(d) {
  const g = state.guilds.get(d.id) || { channelIds: new Set(), roles: new Map() };
  const { channels, threads, members, presences, roles, ...rest } = d;
  Object.assign(g, rest);
  if (roles) {
    g.roles = new Map();
    for (const r of roles) g.roles.set(r.id, r);
  }
  state.guilds.set(g.id, g);
  if (!state.guildOrder.includes(g.id)) state.guildOrder.push(g.id);
  for (const ch of channels || []) putChannel({ ...ch, guild_id: g.id });
  for (const th of threads || []) putChannel({ ...th, guild_id: g.id });
  for (const m of members || []) putMember(g.id, m);
  for (const p of presences || []) putPresence(p);
  return g;
}

export function removeGuild(id) {
  const g = state.guilds.get(id);
  if (!g) return;
  for (const cid of g.channelIds) state.channels.delete(cid);
  state.guilds.delete(id);
  state.guildOrder = state.guildOrder.filter((x) => x !== id);
  state.members.delete(id);
  emit('guilds');
}

export function guildChannels(guildId) {
  const g = state.guilds.get(guildId);
  if (!g) return [];
  return [...g.channelIds]
    .map((id) => state.channels.get(id))
    .filter((c) => c && c.type !== 11 && c.type !== 12 && c.type !== 10)
    .sort((a, b) => a.position - b.position || cmpId(a.id, b.id));
}

/* A DM's name: its own, or its recipients' names. */
export function dmName(ch) {
  if (ch.name) return ch.name;
  const names = (ch.recipients || []).map((u) => {
    const x = state.users.get(u.id) || u;
    return x.global_name || x.username;
  });
  return names.join(', ') || 'Empty group';
}

export const threadsOf = (channelId) =>
  [...state.channels.values()].filter((c) => c.parent_id === channelId && (c.type === 11 || c.type === 12));

/* ---- messages ---- */

/* The page of a channel: messages oldest first, and whether there are more either way. */
export function page(channelId) {
  if (!state.messages.has(channelId)) {
    state.messages.set(channelId, { list: [], hasOlder: true, hasNewer: false, loaded: false });
  }
  return state.messages.get(channelId);
}

export function findMessage(channelId, id) {
  const p = state.messages.get(channelId);
  return p ? p.list.find((m) => m.id === id) : undefined;
}

function insertSorted(list, msg) {
  let i = list.length;
  while (i > 0 && cmpId(list[i - 1].id, msg.id) > 0) i--;
  if (i > 0 && list[i - 1].id === msg.id) return false;
  list.splice(i, 0, msg);
  return true;
}

/* Adds a page from the REST API (newest first, as it answers). */
export function addHistory(channelId, msgs, { older, newer, reset }) {
  const p = page(channelId);
  if (reset) p.list = [];
  for (const m of msgs) {
    if (m.author) putUser(m.author);
    insertSorted(p.list, m);
  }
  if (older !== undefined) p.hasOlder = older;
  if (newer !== undefined) p.hasNewer = newer;
  p.loaded = true;
  emit('messages', { channelId, kind: 'reset' });
}

export function mentionsMe(msg) {
  const me = state.me;
  if (!me || !msg || (msg.author && msg.author.id === me.id)) return false;
  if (msg.mention_everyone) return true;
  if ((msg.mentions || []).some((u) => u.id === me.id)) return true;
  const c = msg.content || '';
  if (c.includes(`<@${me.id}>`) || c.includes(`<@!${me.id}>`)) return true;
  if (/(^|\s)@(everyone|here)\b/.test(c)) return true;
  const ch = state.channels.get(msg.channel_id);
  const mine = ch && ch.guild_id && member(ch.guild_id, me.id);
  if (mine && (msg.mention_roles || []).some((r) => mine.roles.includes(r))) return true;
  return false;
}

/* Set by the app: whether the user is looking at this channel's newest messages now. */
export let isWatching = () => false;
export function setWatching(fn) {
  isWatching = fn;
}

function onMessageCreate(m) {
  if (m.author) putUser(m.author);
  if (m.member && m.guild_id && m.author) putMember(m.guild_id, { ...m.member, user: m.author });
  const ch = state.channels.get(m.channel_id);
  if (ch) {
    ch.last_message_id = maxId(ch.last_message_id, m.id);
    if (ch.type === 1 && !(ch.recipients || []).length && m.author && state.me && m.author.id !== state.me.id) {
      ch.recipients = [m.author];
    }
    if (!ch.guild_id) {
      state.dms = [ch.id, ...state.dms.filter((x) => x !== ch.id)];
      emit('dms');
    }
  }
  const p = state.messages.get(m.channel_id);
  if (p && !p.hasNewer) {
    // A message we sent ourselves may already be there (the REST answer) or pending.
    const i = m.nonce ? p.list.findIndex((x) => x.pending && x.nonce === m.nonce) : -1;
    if (i >= 0) {
      const [old] = p.list.splice(i, 1);
      emit('messages', { channelId: m.channel_id, kind: 'delete', msg: old });
    }
    if (insertSorted(p.list, m)) emit('messages', { channelId: m.channel_id, kind: 'add', msg: m });
  }
  const typing = state.typing.get(m.channel_id);
  if (typing && m.author && typing.delete(m.author.id)) emit('typing', m.channel_id);
  const mine = m.author && state.me && m.author.id === state.me.id;
  if (mine || isWatching(m.channel_id)) {
    markRead(m.channel_id);
  } else if (mentionsMe(m) || (ch && !ch.guild_id)) {
    const r = state.read[m.channel_id] || (state.read[m.channel_id] = {});
    r.m = (r.m || 0) + 1;
    saveRead();
  }
  emit('read', m.channel_id);
  emit('message-created', m);
}

function onMessageUpdate(d) {
  const msg = findMessage(d.channel_id, d.id);
  if (!msg) return;
  // A full message in an event carries `me: false` on every reaction (events are shared by
  // all viewers): keep knowing which reactions are ours.
  if (d.reactions && msg.reactions) {
    const key = (e) => (e.id ? `${e.name}:${e.id}` : e.name);
    const mine = new Set(msg.reactions.filter((r) => r.me).map((r) => key(r.emoji)));
    d = { ...d, reactions: d.reactions.map((r) => ({ ...r, me: r.me || mine.has(key(r.emoji)) })) };
  }
  Object.assign(msg, d);
  emit('messages', { channelId: d.channel_id, kind: 'update', msg });
}

function onMessageDelete(channelId, ids) {
  const p = state.messages.get(channelId);
  if (!p) return;
  for (const id of ids) {
    const i = p.list.findIndex((m) => m.id === id);
    if (i < 0) continue;
    const [msg] = p.list.splice(i, 1);
    emit('messages', { channelId, kind: 'delete', msg });
  }
}

/* A message sent from here, shown greyed until the server confirms it. */
export function addPending(msg) {
  const p = page(msg.channel_id);
  p.list.push(msg);
  emit('messages', { channelId: msg.channel_id, kind: 'add', msg });
}

export function confirmSent(pendingMsg, real) {
  const p = page(pendingMsg.channel_id);
  const i = p.list.indexOf(pendingMsg);
  if (i >= 0) {
    p.list.splice(i, 1);
    emit('messages', { channelId: pendingMsg.channel_id, kind: 'delete', msg: pendingMsg });
  }
  if (real && !p.hasNewer && insertSorted(p.list, real)) {
    emit('messages', { channelId: real.channel_id, kind: 'add', msg: real });
  }
}

function onReaction(t, d) {
  const msg = findMessage(d.channel_id, d.message_id);
  if (!msg) return;
  const key = (e) => (e.id ? `${e.name}:${e.id}` : e.name);
  const reactions = msg.reactions || (msg.reactions = []);
  const me = state.me && d.user_id === state.me.id;
  let r = d.emoji && reactions.find((x) => key(x.emoji) === key(d.emoji));
  if (t === 'MESSAGE_REACTION_ADD') {
    if (!r) reactions.push((r = { emoji: d.emoji, count: 0, me: false }));
    r.count++;
    if (me) r.me = true;
  } else if (t === 'MESSAGE_REACTION_REMOVE' && r) {
    r.count--;
    if (me) r.me = false;
    if (r.count <= 0) reactions.splice(reactions.indexOf(r), 1);
  } else if (t === 'MESSAGE_REACTION_REMOVE_ALL') {
    msg.reactions = [];
  } else if (t === 'MESSAGE_REACTION_REMOVE_EMOJI' && r) {
    reactions.splice(reactions.indexOf(r), 1);
  }
  emit('messages', { channelId: d.channel_id, kind: 'update', msg });
}

function onTyping(d) {
  if (state.me && d.user_id === state.me.id) return;
  if (d.member && d.guild_id) putMember(d.guild_id, d.member);
  if (!state.typing.has(d.channel_id)) state.typing.set(d.channel_id, new Map());
  state.typing.get(d.channel_id).set(d.user_id, Date.now() + 10000);
  emit('typing', d.channel_id);
  setTimeout(() => {
    const m = state.typing.get(d.channel_id);
    if (m && m.get(d.user_id) <= Date.now()) {
      m.delete(d.user_id);
      emit('typing', d.channel_id);
    }
  }, 10100);
}

/* ---- the dispatch reducer ---- */

export function onReady(d) {
  state.me = putUser(d.user);
  loadRead(d.user.id);
  state.guilds.clear();
  state.guildOrder = [];
  state.dms = [];
  for (const ch of d.private_channels || []) putChannel(ch);
  for (const g of d.guilds || []) if (!g.unavailable) putGuild(g);
  for (const p of d.presences || []) putPresence(p);
  state.membersRequested.clear();
  emit('me');
  emit('guilds');
  emit('dms');
}

export function apply(t, d) {
  switch (t) {
    case 'GUILD_CREATE':
      putGuild(d);
      emit('guilds');
      emit('channels', d.id);
      emit('members', d.id);
      emit('guild-created', d.id);
      break;
    case 'GUILD_UPDATE':
      putGuild(d);
      emit('guilds');
      break;
    case 'GUILD_DELETE':
      removeGuild(d.id);
      emit('guild-removed', d.id);
      break;
    case 'CHANNEL_CREATE':
    case 'CHANNEL_UPDATE':
    case 'THREAD_CREATE':
    case 'THREAD_UPDATE': {
      const ch = putChannel(d);
      emit(ch.guild_id ? 'channels' : 'dms', ch.guild_id);
      if (t.startsWith('THREAD')) {
        emit('threads', ch.parent_id);
        // A thread started from a message shares its id: that message now links to it.
        const starter = findMessage(ch.parent_id, ch.id);
        if (starter) emit('messages', { channelId: ch.parent_id, kind: 'update', msg: starter });
      }
      break;
    }
    case 'CHANNEL_DELETE':
    case 'THREAD_DELETE': {
      const ch = state.channels.get(d.id);
      state.channels.delete(d.id);
      state.dms = state.dms.filter((x) => x !== d.id);
      if (ch && ch.guild_id) state.guilds.get(ch.guild_id)?.channelIds.delete(d.id);
      emit(d.guild_id ? 'channels' : 'dms', d.guild_id);
      if (t === 'THREAD_DELETE') emit('threads', d.parent_id);
      emit('channel-removed', d.id);
      break;
    }
    case 'THREAD_LIST_SYNC':
      for (const th of d.threads || []) putChannel(th);
      emit('threads');
      break;
    case 'CHANNEL_RECIPIENT_ADD':
    case 'CHANNEL_RECIPIENT_REMOVE': {
      const ch = state.channels.get(d.channel_id);
      if (ch) {
        const rest = (ch.recipients || []).filter((u) => u.id !== d.user.id);
        ch.recipients = t.endsWith('ADD') ? [...rest, putUser(d.user)] : rest;
        emit('dms');
      }
      break;
    }
    case 'CHANNEL_PINS_UPDATE':
      emit('pins', d.channel_id);
      break;
    case 'MESSAGE_CREATE':
      onMessageCreate(d);
      break;
    case 'MESSAGE_UPDATE':
      onMessageUpdate(d);
      break;
    case 'MESSAGE_DELETE':
      onMessageDelete(d.channel_id, [d.id]);
      break;
    case 'MESSAGE_DELETE_BULK':
      onMessageDelete(d.channel_id, d.ids || []);
      break;
    case 'MESSAGE_REACTION_ADD':
    case 'MESSAGE_REACTION_REMOVE':
    case 'MESSAGE_REACTION_REMOVE_ALL':
    case 'MESSAGE_REACTION_REMOVE_EMOJI':
      onReaction(t, d);
      break;
    case 'TYPING_START':
      onTyping(d);
      break;
    case 'PRESENCE_UPDATE':
      putPresence(d);
      emit('presence', d.user.id);
      emit('members', d.guild_id);
      break;
    case 'GUILD_MEMBER_ADD':
    case 'GUILD_MEMBER_UPDATE': {
      putMember(d.guild_id, d);
      const g = state.guilds.get(d.guild_id);
      if (g && t === 'GUILD_MEMBER_ADD') g.member_count = (g.member_count || 0) + 1;
      emit('members', d.guild_id);
      if (state.me && d.user.id === state.me.id) emit('channels', d.guild_id);
      break;
    }
    case 'GUILD_MEMBER_REMOVE': {
      state.members.get(d.guild_id)?.delete(d.user.id);
      const g = state.guilds.get(d.guild_id);
      if (g && g.member_count) g.member_count--;
      emit('members', d.guild_id);
      break;
    }
    case 'GUILD_MEMBERS_CHUNK':
      for (const m of d.members || []) putMember(d.guild_id, m);
      for (const p of d.presences || []) putPresence(p);
      emit('members', d.guild_id);
      break;
    case 'GUILD_ROLE_CREATE':
    case 'GUILD_ROLE_UPDATE': {
      const g = state.guilds.get(d.guild_id);
      if (g) g.roles.set(d.role.id, d.role);
      emit('roles', d.guild_id);
      emit('members', d.guild_id);
      emit('channels', d.guild_id);
      break;
    }
    case 'GUILD_ROLE_DELETE': {
      const g = state.guilds.get(d.guild_id);
      if (g) g.roles.delete(d.role_id);
      emit('roles', d.guild_id);
      emit('members', d.guild_id);
      break;
    }
    case 'GUILD_BAN_ADD':
    case 'GUILD_BAN_REMOVE':
      emit('bans', d.guild_id);
      break;
    case 'USER_UPDATE':
      state.me = putUser(d);
      emit('me');
      break;
    default:
      break;
  }
}
