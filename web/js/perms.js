/*
 * Permissions as the server computes them (spec/client-api.md §7, Discord's algorithm),
 * so that the client shows only the controls the user may use. The server checks again.
 */
import { state, member } from './store.js';

export const P = {
  CREATE_INSTANT_INVITE: 1n << 0n,
  KICK_MEMBERS: 1n << 1n,
  BAN_MEMBERS: 1n << 2n,
  ADMINISTRATOR: 1n << 3n,
  MANAGE_CHANNELS: 1n << 4n,
  MANAGE_GUILD: 1n << 5n,
  ADD_REACTIONS: 1n << 6n,
  VIEW_AUDIT_LOG: 1n << 7n,
  VIEW_CHANNEL: 1n << 10n,
  SEND_MESSAGES: 1n << 11n,
  MANAGE_MESSAGES: 1n << 13n,
  EMBED_LINKS: 1n << 14n,
  ATTACH_FILES: 1n << 15n,
  READ_MESSAGE_HISTORY: 1n << 16n,
  MENTION_EVERYONE: 1n << 17n,
  CONNECT: 1n << 20n,
  SPEAK: 1n << 21n,
  CHANGE_NICKNAME: 1n << 26n,
  MANAGE_NICKNAMES: 1n << 27n,
  MANAGE_ROLES: 1n << 28n,
  MANAGE_THREADS: 1n << 34n,
  CREATE_PUBLIC_THREADS: 1n << 35n,
  SEND_MESSAGES_IN_THREADS: 1n << 38n,
  MODERATE_MEMBERS: 1n << 40n,
};

/* The permissions shown in the role and overwrite editors, with their labels. */
export const EDITABLE = [
  ['VIEW_CHANNEL', 'View channels'],
  ['SEND_MESSAGES', 'Send messages'],
  ['READ_MESSAGE_HISTORY', 'Read message history'],
  ['ADD_REACTIONS', 'Add reactions'],
  ['ATTACH_FILES', 'Attach files'],
  ['EMBED_LINKS', 'Embed links'],
  ['MENTION_EVERYONE', 'Mention @everyone'],
  ['CREATE_PUBLIC_THREADS', 'Create threads'],
  ['SEND_MESSAGES_IN_THREADS', 'Send messages in threads'],
  ['CREATE_INSTANT_INVITE', 'Create invites'],
  ['MANAGE_MESSAGES', 'Manage messages'],
  ['MANAGE_THREADS', 'Manage threads'],
  ['MANAGE_CHANNELS', 'Manage channels'],
  ['MANAGE_ROLES', 'Manage roles'],
  ['MANAGE_GUILD', 'Manage server'],
  ['KICK_MEMBERS', 'Kick members'],
  ['BAN_MEMBERS', 'Ban members'],
  ['MODERATE_MEMBERS', 'Time out members'],
  ['MANAGE_NICKNAMES', 'Manage nicknames'],
  ['VIEW_AUDIT_LOG', 'View audit log'],
  ['ADMINISTRATOR', 'Administrator'],
];

const ALL = (1n << 53n) - 1n;

export function guildPerms(guildId, userId = state.me && state.me.id) {
  const g = state.guilds.get(guildId);
  if (!g) return 0n;
  if (g.owner_id === userId) return ALL;
  const m = member(guildId, userId);
  let p = BigInt(g.roles.get(guildId)?.permissions || 0);
  for (const rid of (m && m.roles) || []) p |= BigInt(g.roles.get(rid)?.permissions || 0);
  if (p & P.ADMINISTRATOR) return ALL;
  if (m && m.communication_disabled_until && Date.parse(m.communication_disabled_until) > Date.now()) {
    p &= P.VIEW_CHANNEL | P.READ_MESSAGE_HISTORY;
  }
  return p;
}

export function channelPerms(channelId, userId = state.me && state.me.id) {
  let ch = state.channels.get(channelId);
  if (!ch) return 0n;
  if (!ch.guild_id) return ALL & ~(P.MANAGE_CHANNELS | P.MANAGE_GUILD | P.ADMINISTRATOR); // a DM
  const thread = ch.type === 11 || ch.type === 12;
  if (thread && state.channels.get(ch.parent_id)) ch = state.channels.get(ch.parent_id);
  let p = guildPerms(ch.guild_id, userId);
  if (p === ALL) return ALL;
  const m = member(ch.guild_id, userId);
  const ows = ch.permission_overwrites || [];
  const everyone = ows.find((o) => o.id === ch.guild_id);
  if (everyone) p = (p & ~BigInt(everyone.deny)) | BigInt(everyone.allow);
  let allow = 0n;
  let deny = 0n;
  for (const o of ows) {
    if (o.type === 0 && m && m.roles.includes(o.id)) {
      allow |= BigInt(o.allow);
      deny |= BigInt(o.deny);
    }
  }
  p = (p & ~deny) | allow;
  const mine = ows.find((o) => o.type === 1 && o.id === userId);
  if (mine) p = (p & ~BigInt(mine.deny)) | BigInt(mine.allow);
  if (!(p & P.VIEW_CHANNEL)) return 0n;
  if (thread) p = p & P.SEND_MESSAGES_IN_THREADS ? p | P.SEND_MESSAGES : p & ~P.SEND_MESSAGES;
  return p;
}

export const can = (perms, bit) => (perms & bit) === bit;

/* The highest role position of a member (the owner outranks everyone). */
export function topPosition(guildId, userId) {
  const g = state.guilds.get(guildId);
  if (!g) return -1;
  if (g.owner_id === userId) return Infinity;
  const m = member(guildId, userId);
  let top = 0;
  for (const rid of (m && m.roles) || []) top = Math.max(top, g.roles.get(rid)?.position || 0);
  return top;
}

/* Whether the current user may moderate (kick, ban, time out) target with bit. */
export function mayModerate(guildId, targetId, bit) {
  if (!state.me || targetId === state.me.id) return false;
  const g = state.guilds.get(guildId);
  if (!g || g.owner_id === targetId) return false;
  return can(guildPerms(guildId), bit) && topPosition(guildId, state.me.id) > topPosition(guildId, targetId);
}
