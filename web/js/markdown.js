/*
 * Message text to DOM: the subset of Discord's markdown people use every day (code blocks,
 * inline code, bold, italic, underline, strike-through, quotes, links) plus mentions of
 * users, roles and channels. Builds nodes, never HTML strings, so content cannot inject
 * markup.
 */
import { h, displayName } from './dom.js';
import { state, member } from './store.js';

const INLINE =
  /(`+)([\s\S]*?[^`])\1(?!`)|<@!?(\d+)>|<@&(\d+)>|<#(\d+)>|<a?:(\w+):\d+>|@(everyone|here)\b|(https?:\/\/[^\s<]+[^\s<.,:;"')\]!?])|\*\*([\s\S]+?)\*\*|__([\s\S]+?)__|~~([\s\S]+?)~~|\*([^*\s](?:[\s\S]*?[^*\s])?)\*|\b_([^_]+)_\b/g;

export function renderInline(text, ctx, depth = 0) {
  const out = [];
  let last = 0;
  let m;
  const re = new RegExp(INLINE.source, 'g');
  while ((m = re.exec(text))) {
    if (m.index > last) out.push(text.slice(last, m.index));
    last = re.lastIndex;
    const sub = (s) => (depth > 4 ? s : renderInline(s, ctx, depth + 1));
    if (m[1]) out.push(h('code.inline', null, m[2]));
    else if (m[3]) out.push(userMention(m[3], ctx));
    else if (m[4]) out.push(roleMention(m[4], ctx));
    else if (m[5]) out.push(channelMention(m[5]));
    else if (m[6]) out.push(`:${m[6]}:`);
    else if (m[7]) out.push(h('span.mention', null, '@' + m[7]));
    else if (m[8]) out.push(h('a', { href: m[8], target: '_blank', rel: 'noopener noreferrer' }, m[8]));
    else if (m[9]) out.push(h('strong', null, sub(m[9])));
    else if (m[10]) out.push(h('u', null, sub(m[10])));
    else if (m[11]) out.push(h('s', null, sub(m[11])));
    else if (m[12]) out.push(h('em', null, sub(m[12])));
    else if (m[13]) out.push(h('em', null, sub(m[13])));
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

function userMention(id, ctx) {
  const u = state.users.get(id);
  const mem = ctx.guildId && member(ctx.guildId, id);
  const name = u ? displayName(u, mem) : 'unknown-user';
  const me = state.me && state.me.id === id;
  return h('span.mention' + (me ? '.me' : ''), { dataset: { user: id } }, '@' + name);
}

function roleMention(id, ctx) {
  const g = ctx.guildId && state.guilds.get(ctx.guildId);
  const r = g && g.roles.get(id);
  const el = h('span.mention', null, '@' + (r ? r.name : 'deleted-role'));
  if (r && r.color) el.style.color = '#' + r.color.toString(16).padStart(6, '0');
  return el;
}

function channelMention(id) {
  const ch = state.channels.get(id);
  if (!ch || !ch.guild_id) return h('span.mention', null, '#unknown');
  return h('a.mention', { href: `/channels/${ch.guild_id}/${ch.id}`, dataset: { route: '' } }, '#' + ch.name);
}

/* Whole message content: fenced code blocks and quote lines, then inline markup. */
export function renderContent(content, ctx = {}) {
  const out = [];
  const parts = String(content || '').split(/```(?:[\w+-]*\n)?([\s\S]*?)```/g);
  parts.forEach((part, i) => {
    if (i % 2 === 1) {
      out.push(h('pre.code', null, h('code', null, part.replace(/\n$/, ''))));
      return;
    }
    if (!part) return;
    const lines = part.split('\n');
    let quote = null;
    lines.forEach((line, j) => {
      const q = /^> (.*)$/.exec(line);
      if (q) {
        if (!quote) out.push((quote = h('blockquote')));
        else quote.append('\n');
        quote.append(...renderInline(q[1], ctx));
        return;
      }
      quote = null;
      out.push(...renderInline(line, ctx));
      if (j < lines.length - 1) out.push('\n');
    });
  });
  return out;
}

/* Plain text for previews (replies, notifications, search snippets). */
export function plainText(content) {
  return String(content || '')
    .replace(/<@!?(\d+)>/g, (_, id) => '@' + (state.users.get(id) ? displayName(state.users.get(id)) : 'user'))
    .replace(/<#(\d+)>/g, (_, id) => '#' + (state.channels.get(id)?.name || 'channel'))
    .replace(/<@&(\d+)>/g, '@role')
    .replace(/[*_~`]/g, '');
}
