/*
 * Message search with Discord's filter syntax, typed in the search box:
 *   from:USER  mentions:USER  in:CHANNEL  has:link|embed|file|image|video|sound
 *   before:DATE  after:DATE  during:DATE  pinned:true|false   and free words.
 * Sent as GET /guilds/{id}/messages/search (spec/rest-search.md); a hit opens its channel
 * with the message in context.
 */
import { h, displayName } from '../dom.js';
import { get, qs } from '../api.js';
import { state, member } from '../store.js';
import { route, navigate } from '../router.js';
import { renderContent } from '../markdown.js';
import { formatStamp } from '../time.js';
import { panelHeader } from './panel.js';
import { errorText } from './dialogs.js';
import { currentView } from './chat.js';

const EPOCH = 1420070400000n;
const HAS = ['link', 'embed', 'file', 'image', 'video', 'sound', 'sticker', 'poll'];
const PAGE = 25;

function dateId(text, endOfDay) {
  const d = new Date(text + (text.length <= 10 ? 'T00:00:00' : ''));
  if (isNaN(d)) return null;
  if (endOfDay) d.setDate(d.getDate() + 1);
  return String((BigInt(d.getTime()) - EPOCH) << 22n);
}

function findUser(guildId, name) {
  const n = name.replace(/^@/, '').toLowerCase();
  for (const m of (state.members.get(guildId) || new Map()).values()) {
    if (m.user.username === n || (m.nick || '').toLowerCase() === n || (m.user.global_name || '').toLowerCase() === n) return m.user.id;
  }
  return null;
}

/* Turns the typed query into API parameters, or {error}. */
export function parseQuery(text, guildId) {
  const params = { content: [] };
  const tokens = text.match(/(\w+:"[^"]*"|\w+:\S+|"[^"]*"|\S+)/g) || [];
  for (const tok of tokens) {
    const m = /^(from|mentions|in|has|before|after|during|pinned):"?([^"]*)"?$/i.exec(tok);
    if (!m) {
      params.content.push(tok.replace(/^"|"$/g, ''));
      continue;
    }
    const [, key, value] = m;
    const k = key.toLowerCase();
    if (k === 'from' || k === 'mentions') {
      const id = /^\d+$/.test(value) ? value : findUser(guildId, value);
      if (!id) return { error: `No member called “${value}”.` };
      (params[k === 'from' ? 'author_id' : 'mentions'] ||= []).push(id);
    } else if (k === 'in') {
      const name = value.replace(/^#/, '').toLowerCase();
      const ch = [...state.channels.values()].find((c) => c.guild_id === guildId && c.name.toLowerCase() === name);
      if (!ch) return { error: `No channel called “${value}”.` };
      (params.channel_id ||= []).push(ch.id);
    } else if (k === 'has') {
      if (!HAS.includes(value.toLowerCase())) return { error: `has: takes one of ${HAS.join(', ')}.` };
      (params.has ||= []).push(value.toLowerCase());
    } else if (k === 'pinned') {
      params.pinned = value.toLowerCase() === 'true';
    } else {
      const lo = dateId(value, false);
      const hi = dateId(value, true);
      if (!lo) return { error: `“${value}” is not a date (use YYYY-MM-DD).` };
      if (k === 'before') params.max_id = lo;
      else if (k === 'after') params.min_id = hi;
      else {
        params.min_id = lo;
        params.max_id = hi;
      }
    }
  }
  params.content = params.content.join(' ');
  return { params };
}

export function renderSearch(query) {
  const guildId = route.guildId;
  const aside = h('aside.panel.search-panel', { 'aria-label': 'Search results' });
  const status = h('p.search-status', { role: 'status' });
  const list = h('ul.result-list', { role: 'list' });
  const more = h('button.secondary.block', { type: 'button', hidden: true }, 'More results');
  aside.append(
    panelHeader('Search'),
    h('div.panel-scroll', null, h('p.search-query', null, 'Results for ', h('strong', null, query)), status, list, more),
  );
  const parsed = parseQuery(query, guildId);
  if (parsed.error) {
    status.textContent = parsed.error;
    return aside;
  }
  let offset = 0;
  const load = async () => {
    more.hidden = true;
    status.textContent = 'Searching…';
    try {
      const res = await get(`/guilds/${guildId}/messages/search${qs({ ...parsed.params, offset, limit: PAGE })}`);
      const hits = (res.messages || []).map((group) => (Array.isArray(group) ? group.find((m) => m.hit) || group[0] : group));
      offset += hits.length;
      status.textContent = `${res.total_results} result${res.total_results === 1 ? '' : 's'}`;
      for (const m of hits) list.append(result(m, guildId));
      more.hidden = offset >= res.total_results || !hits.length;
      if (offset === hits.length && hits.length) list.querySelector('.jump')?.setAttribute('data-autofocus', '');
    } catch (err) {
      status.textContent = err.code === 110000 ? 'The index is being built. Try again in a moment.' : errorText(err);
    }
  };
  more.addEventListener('click', load);
  load();
  return aside;
}

function result(m, guildId) {
  const ch = state.channels.get(m.channel_id);
  if (m.author && !state.users.has(m.author.id)) state.users.set(m.author.id, m.author);
  const name = displayName(m.author, member(guildId, m.author.id));
  return h(
    'li.result',
    null,
    h('p.result-meta', null, h('span.result-channel', null, '#' + (ch ? ch.name : 'unknown')), ' · ', h('strong', null, name), ' ', h('time', { datetime: m.timestamp }, formatStamp(new Date(m.timestamp)))),
    h('div.content', null, renderContent(m.content, { guildId })),
    h(
      'button.link.jump',
      {
        type: 'button',
        'aria-label': `Jump to message from ${name}`,
        onclick: () => {
          const v = currentView();
          if (v && v.channelId === m.channel_id) v.jumpTo(m.id);
          else navigate(`/channels/${guildId}/${m.channel_id}/${m.id}`);
        },
      },
      'Jump',
    ),
  );
}
