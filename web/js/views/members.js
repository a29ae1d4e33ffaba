/*
 * The member list: online members under their highest hoisted role, then the others
 * online, then offline; each with presence, custom status and role colour. Arrow keys
 * move through it; Enter opens the profile card.
 */
import { h, clear, avatar, displayName, roving, fixTabStop } from '../dom.js';
import { state, on, presenceOf } from '../store.js';
import { route } from '../router.js';
import { openProfile } from './lazy.js';
import { roleColor } from './messages.js';
import { panelHeader } from './panel.js';
import { STATUS } from './userpanel.js';

/* Subscribes fn to topics for as long as el stays in the document. */
export function live(el, topics, fn) {
  const offs = topics.map((t) =>
    on(t, (x) => {
      if (!el.isConnected) {
        offs.forEach((o) => o());
        return;
      }
      fn(x);
    }),
  );
}

function row(user, guildId, mem) {
  const pres = presenceOf(user.id);
  const custom = (pres.activities || []).find((a) => a.type === 4 && a.state);
  const name = displayName(user, mem);
  const color = roleColor(guildId, user.id);
  const nameEl = h('span.m-name', null, name, user.bot ? h('span.tag', null, 'BOT') : null);
  if (color) nameEl.style.color = color;
  return h(
    'li',
    null,
    h(
      'button.member' + (pres.status === 'offline' ? '.offline' : ''),
      {
        type: 'button',
        tabindex: -1,
        dataset: { user: user.id },
        'aria-label': `${name}, ${STATUS[pres.status] || 'Offline'}${custom ? ', ' + custom.state : ''}`,
        onclick: (e) => openProfile(e.currentTarget, user.id, guildId),
      },
      h('span.avatar-wrap', null, avatar(user, 32), h('span.status-dot.' + pres.status, { 'aria-hidden': 'true' })),
      h('span.m-text', null, nameEl, custom ? h('small.m-custom', null, custom.state) : null),
    ),
  );
}

function groups(guildId) {
  const g = state.guilds.get(guildId);
  const map = state.members.get(guildId) || new Map();
  const hoisted = [...g.roles.values()].filter((r) => r.hoist && r.id !== guildId).sort((a, b) => b.position - a.position);
  const byRole = new Map(hoisted.map((r) => [r.id, []]));
  const online = [];
  const offline = [];
  const sorted = [...map.values()].sort((a, b) => displayName(a.user, a).localeCompare(displayName(b.user, b)));
  for (const m of sorted) {
    if (presenceOf(m.user.id).status === 'offline') {
      offline.push(m);
      continue;
    }
    const top = hoisted.find((r) => (m.roles || []).includes(r.id));
    (top ? byRole.get(top.id) : online).push(m);
  }
  const out = hoisted.filter((r) => byRole.get(r.id).length).map((r) => [r.name, byRole.get(r.id)]);
  if (online.length) out.push(['Online', online]);
  if (offline.length) out.push(['Offline', offline]);
  return out;
}

export function renderMembers() {
  const aside = h('aside.panel.members', { 'aria-label': 'Members' });
  const body = h('div.panel-scroll');
  aside.append(panelHeader('Members'), body);
  roving(body, '.member');
  const render = () => {
    const focused = body.contains(document.activeElement) ? document.activeElement.dataset.user : null;
    const ch = state.channels.get(route.channelId);
    const parts = [];
    if (route.guildId === '@me' && !ch) {
      parts.push(h('p.empty', null, 'Open a conversation to see who is in it.'));
    } else if (route.guildId === '@me') {
      const people = ch ? [state.me, ...(ch.recipients || [])].filter(Boolean) : [];
      parts.push(h('h3.m-group', null, `Members — ${people.length}`), h('ul.member-list', { role: 'list' }, people.map((u) => row(state.users.get(u.id) || u, null, null))));
    } else if (state.guilds.has(route.guildId)) {
      for (const [title, list] of groups(route.guildId)) {
        parts.push(h('h3.m-group', null, `${title} — ${list.length}`), h('ul.member-list', { role: 'list', 'aria-label': title }, list.map((m) => row(m.user, route.guildId, m))));
      }
    }
    clear(body, parts);
    const again = focused && body.querySelector(`[data-user="${focused}"]`);
    fixTabStop(body, '.member', again);
    if (again) again.focus();
  };
  live(aside, ['members', 'presence', 'roles', 'route'], render);
  render();
  return aside;
}
