/*
 * The server rail: home (direct messages), one button per guild with its unread pill and
 * mention count, and "add a server" (create one or join with an invite).
 */
import { icon } from '../icons.js';
import { h, clear, roving, fixTabStop, initials, toast } from '../dom.js';
import { post } from '../api.js';
import { state, on, isUnread, mentionCount } from '../store.js';
import { route, navigate } from '../router.js';
import { formDialog, modal } from './dialogs.js';

export function guildUnread(guildId) {
  const g = state.guilds.get(guildId);
  let unread = false;
  let mentions = 0;
  for (const id of g ? g.channelIds : []) {
    const ch = state.channels.get(id);
    if (!ch) continue;
    if (isUnread(ch)) unread = true;
    mentions += mentionCount(id);
  }
  return { unread, mentions };
}

function dmMentions() {
  return state.dms.reduce((n, id) => n + mentionCount(id), 0);
}

export function mountRail(nav) {
  const list = h('ul.rail-list', { role: 'list' });
  nav.append(list);
  roving(nav, '.rail-item');

  const item = (href, label, content, { active, unread, mentions, guild } = {}) => {
    const a = h(
      'a.rail-item' + (active ? '.active' : '') + (unread ? '.unread' : ''),
      {
        href,
        dataset: { route: '', guild },
        'aria-current': active ? 'page' : null,
        'aria-label': label + (mentions ? `, ${mentions} mention${mentions > 1 ? 's' : ''}` : unread ? ', unread messages' : ''),
        title: label,
      },
      content,
      mentions ? h('span.badge', { 'aria-hidden': 'true' }, mentions > 99 ? '99+' : String(mentions)) : null,
    );
    return h('li', null, h('span.pill', { 'aria-hidden': 'true' }), a);
  };

  const render = () => {
    const focused = document.activeElement && nav.contains(document.activeElement) ? document.activeElement.dataset.guild : null;
    const dm = dmMentions();
    const items = [
      item('/channels/@me', 'Direct Messages', h('img', { src: '/img/hearth.svg', alt: '', width: 28, height: 28 }), { active: route.guildId === '@me', mentions: dm, guild: '@me' }),
      h('li.rail-sep', { role: 'separator', 'aria-hidden': 'true' }),
    ];
    for (const id of state.guildOrder) {
      const g = state.guilds.get(id);
      if (!g) continue;
      const { unread, mentions } = guildUnread(id);
      items.push(item(`/channels/${id}`, g.name, h('span.rail-initials', { 'aria-hidden': 'true' }, initials(g.name).slice(0, 4)), { active: route.guildId === id, unread, mentions, guild: id }));
    }
    items.push(
      h('li', null, h('button.rail-item.add', { type: 'button', 'aria-label': 'Add a server', title: 'Add a server', onclick: addServer, dataset: { guild: '+' } }, icon('plus', 24))),
    );
    clear(list, items);
    const cur = focused && list.querySelector(`[data-guild="${focused}"]`);
    fixTabStop(nav, '.rail-item', cur || list.querySelector('.rail-item.active'));
    if (cur) cur.focus();
  };
  on('guilds', render);
  on('route', render);
  on('read', render);
  on('dms', render);
  render();
}

export function addServer() {
  const m = modal({
    title: 'Add a server',
    body: h(
      'div.choice',
      null,
      h('p', null, 'Your server is where you and your friends hang out. Make yours, or join one with an invite.'),
      h('button.primary.block', { type: 'button', autofocus: true, onclick: () => (m.close(), createGuild()) }, 'Create my own'),
      h('button.secondary.block', { type: 'button', onclick: () => (m.close(), joinGuild()) }, 'Join a server'),
    ),
  });
}

export function createGuild() {
  formDialog({
    title: 'Create a server',
    intro: 'Give your new server a name. You can change it later.',
    fields: [{ name: 'name', label: 'Server name', value: state.me ? `${state.me.global_name || state.me.username}’s server` : '', required: true, maxlength: 100 }],
    submit: 'Create',
    onSubmit: async (v) => {
      const g = await post('/guilds', { name: v.name });
      toast(`Created ${g.name}.`);
      const go = () => navigate(`/channels/${g.id}/${g.system_channel_id || ''}`.replace(/\/$/, ''));
      // GUILD_CREATE arrives on the gateway; go there as soon as we know the guild.
      if (state.guilds.has(g.id)) go();
      else {
        const off = on('guild-created', (id) => {
          if (id === g.id) {
            off();
            go();
          }
        });
      }
    },
  });
}

export function joinGuild() {
  formDialog({
    title: 'Join a server',
    intro: 'Enter an invite below to join an existing server.',
    fields: [{ name: 'invite', label: 'Invite link', placeholder: `${location.origin}/invite/hTKzmak`, required: true }],
    submit: 'Join Server',
    onSubmit: async (v) => {
      const { parseInviteCode, openInvite } = await import('./invite.js');
      const code = parseInviteCode(v.invite);
      if (!code) throw Object.assign(new Error(), { userMessage: 'That does not look like an invite link.' });
      setTimeout(() => openInvite(code));
    },
  });
}
