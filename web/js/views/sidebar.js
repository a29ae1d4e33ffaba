/*
 * The channel sidebar: for a guild, its menu and its channels grouped by category with
 * unread markers and mention counts; for home, the direct messages. The account panel
 * (status, custom status, log out) sits at the bottom.
 */
import { icon } from '../icons.js';
import { h, clear, roving, fixTabStop, avatar, toast } from '../dom.js';
import { post, del } from '../api.js';
import { state, on, emit, apply, isUnread, mentionCount, guildChannels, presenceOf, dmName } from '../store.js';
import { route, navigate } from '../router.js';
import { channelPerms, guildPerms, can, P } from '../perms.js';
import { formDialog, popupMenu, confirmDialog, errorText } from './dialogs.js';
import { mountUserPanel } from './userpanel.js';
import { createInvite, openGuildSettings, newDmDialog } from './lazy.js';

const collapsed = new Set(JSON.parse(localStorage.getItem('hearth.collapsed') || '[]'));

export function mountSidebar(box) {
  const nav = h('nav#channels.channels', { 'aria-label': 'Channels' });
  const panel = h('section.user-panel', { 'aria-label': 'Your account' });
  box.append(nav, panel);
  roving(nav, '.channel, .cat-toggle, .dm-link');
  mountUserPanel(panel);

  const render = () => {
    const focusedId = nav.contains(document.activeElement) ? document.activeElement.dataset.key : null;
    if (route.guildId === '@me') renderHome(nav);
    else renderGuild(nav, route.guildId);
    const again = focusedId && nav.querySelector(`[data-key="${focusedId}"]`);
    fixTabStop(nav, '.channel, .cat-toggle, .dm-link', again || nav.querySelector('[aria-current="page"]'));
    if (again) again.focus();
  };
  on('route', render);
  on('channels', (gid) => gid === route.guildId && render());
  on('guilds', render);
  on('read', render);
  on('dms', () => route.guildId === '@me' && render());
  on('members', (gid) => gid === route.guildId && render());
  on('roles', (gid) => gid === route.guildId && render());
  on('presence', () => route.guildId === '@me' && render());
  render();
}

function channelIcon(ch) {
  return icon(ch.type === 2 ? 'speaker' : 'hash');
}

function channelLink(ch, guildId) {
  const active = route.channelId === ch.id;
  const unread = !active && isUnread(ch);
  const mentions = mentionCount(ch.id);
  const kind = ch.type === 2 ? 'voice channel' : 'text channel';
  const label = `${ch.name} (${kind})${mentions ? `, ${mentions} mention${mentions > 1 ? 's' : ''}` : unread ? ', unread' : ''}`;
  const content = [
    h('span.ch-icon', { 'aria-hidden': 'true' }, channelIcon(ch)),
    h('span.ch-name', null, ch.name),
    mentions ? h('span.badge', { 'aria-hidden': 'true' }, String(mentions)) : null,
  ];
  if (ch.type === 2) {
    return h(
      'li',
      null,
      h('button.channel.voice', { type: 'button', dataset: { key: ch.id, channel: ch.id }, 'aria-label': label, onclick: () => toast('Voice channels are not available in the web client yet.') }, content),
    );
  }
  return h(
    'li',
    null,
    h(
      'a.channel' + (active ? '.active' : '') + (unread ? '.unread' : ''),
      { href: `/channels/${guildId}/${ch.id}`, dataset: { route: '', key: ch.id, channel: ch.id }, 'aria-current': active ? 'page' : null, 'aria-label': label },
      content,
    ),
  );
}

function renderGuild(nav, guildId) {
  const g = state.guilds.get(guildId);
  if (!g) {
    clear(nav, h('p.empty', null, 'Loading…'));
    return;
  }
  nav.setAttribute('aria-label', `Channels of ${g.name}`);
  const perms = guildPerms(guildId);
  const all = guildChannels(guildId).filter((c) => c.type === 4 || can(channelPerms(c.id), P.VIEW_CHANNEL));
  const cats = all.filter((c) => c.type === 4);
  const loose = all.filter((c) => c.type !== 4 && !c.parent_id);
  const menuBtn = h(
    'button.guild-menu',
    { type: 'button', 'aria-haspopup': 'menu', 'aria-expanded': 'false', onclick: () => guildMenu(menuBtn, g, perms) },
    h('span.guild-name', null, g.name),
    h('span.chev', { 'aria-hidden': 'true' }, '▾'),
  );
  const list = h('ul.channel-list', { role: 'list' }, loose.map((c) => channelLink(c, guildId)));
  for (const cat of cats) {
    const kids = all.filter((c) => c.parent_id === cat.id && c.type !== 4);
    const isCollapsed = collapsed.has(cat.id);
    const listId = 'cat-' + cat.id;
    list.append(
      h(
        'li.category',
        null,
        h(
          'div.cat-head',
          null,
          h(
            'button.cat-toggle',
            {
              type: 'button',
              'aria-expanded': String(!isCollapsed),
              'aria-controls': listId,
              dataset: { key: 'cat' + cat.id },
              onclick: () => {
                if (collapsed.has(cat.id)) collapsed.delete(cat.id);
                else collapsed.add(cat.id);
                localStorage.setItem('hearth.collapsed', JSON.stringify([...collapsed]));
                emit('channels', guildId);
              },
            },
            h('span.chev', { 'aria-hidden': 'true' }, isCollapsed ? '▸' : '▾'),
            h('span', null, cat.name),
          ),
          can(perms, P.MANAGE_CHANNELS)
            ? h('button.icon.add-channel', { type: 'button', 'aria-label': `Create channel in ${cat.name}`, title: 'Create channel', onclick: () => createChannel(guildId, cat.id) }, icon('plus', 16))
            : null,
        ),
        h(
          'ul#' + listId,
          { role: 'list' },
          // A collapsed category still shows its unread and selected channels, as Discord does.
          kids.filter((c) => !isCollapsed || route.channelId === c.id || isUnread(c) || mentionCount(c.id)).map((c) => channelLink(c, guildId)),
        ),
      ),
    );
  }
  const head = h('header.side-head', null, menuBtn);
  const body = h('div.side-scroll', null, list);
  if (!all.length) body.append(h('p.empty', null, 'No channels you can see yet.'));
  clear(nav, head, body);
}

function guildMenu(btn, g, perms) {
  const items = [];
  const channel = state.channels.get(route.channelId);
  if (channel && can(channelPerms(channel.id), P.CREATE_INSTANT_INVITE)) {
    items.push({ label: 'Invite People', icon: icon('invite', 16), onSelect: () => createInvite(channel) });
  }
  if (can(perms, P.MANAGE_GUILD) || can(perms, P.MANAGE_ROLES) || can(perms, P.KICK_MEMBERS) || can(perms, P.BAN_MEMBERS) || can(perms, P.MODERATE_MEMBERS)) {
    items.push({ label: 'Server Settings', icon: icon('gear', 16), onSelect: () => openGuildSettings(g.id) });
  }
  if (can(perms, P.MANAGE_CHANNELS)) {
    items.push({ label: 'Create Channel', icon: icon('plus', 16), onSelect: () => createChannel(g.id, null) });
    items.push({ label: 'Create Category', icon: icon('hash', 16), onSelect: () => createChannel(g.id, null, 4) });
  }
  if (state.me && g.owner_id !== state.me.id) {
    items.push(null, {
      label: 'Leave Server',
      danger: true,
      onSelect: async () => {
        if (!(await confirmDialog({ title: `Leave ${g.name}`, text: `Are you sure you want to leave ${g.name}? You won't be able to rejoin unless you are re-invited.`, confirm: 'Leave Server' }))) return;
        try {
          await del(`/users/@me/guilds/${g.id}`);
          navigate('/channels/@me');
        } catch (err) {
          toast(errorText(err), 'error');
        }
      },
    });
  }
  if (!items.length) items.push({ label: 'No actions available', onSelect: () => {} });
  popupMenu(btn, items, { label: `${g.name} menu` });
}

export function createChannel(guildId, parentId, type = 0) {
  const cats = guildChannels(guildId).filter((c) => c.type === 4);
  const fields = [];
  if (type !== 4) {
    fields.push({
      name: 'type',
      label: 'Channel type',
      type: 'radio',
      value: 0,
      options: [
        ['0', '# Text', 'Send messages, images, opinions and puns'],
        ['2', '🔊 Voice', 'Hang out together with voice'],
      ],
    });
  }
  fields.push({ name: 'name', label: type === 4 ? 'Category name' : 'Channel name', required: true, maxlength: 100, placeholder: type === 4 ? 'New category' : 'new-channel' });
  if (type !== 4 && cats.length) {
    fields.push({ name: 'parent_id', label: 'Category', type: 'select', value: parentId || '', options: [['', 'No category'], ...cats.map((c) => [c.id, c.name])] });
  }
  formDialog({
    title: type === 4 ? 'Create Category' : 'Create Channel',
    fields,
    submit: type === 4 ? 'Create Category' : 'Create Channel',
    onSubmit: async (v) => {
      const body = { name: v.name, type: type === 4 ? 4 : Number(v.type || 0) };
      const parent = v.parent_id !== undefined ? v.parent_id : parentId;
      if (parent && type !== 4) body.parent_id = parent;
      const ch = await post(`/guilds/${guildId}/channels`, body);
      apply('CHANNEL_CREATE', ch); // the gateway's copy may come after this answer
      if (ch.type === 0) navigate(`/channels/${guildId}/${ch.id}`);
      else toast(`Created ${ch.name}.`);
    },
  });
}

function renderHome(nav) {
  nav.setAttribute('aria-label', 'Direct messages');
  const add = h('button.icon', { type: 'button', 'aria-label': 'Create a direct message', title: 'Create DM', onclick: newDmDialog }, icon('plus'));
  const list = h('ul.dm-list', { role: 'list' });
  for (const id of state.dms) {
    const ch = state.channels.get(id);
    if (!ch) continue;
    const active = route.channelId === id;
    const unread = !active && isUnread(ch);
    const mentions = mentionCount(id);
    const other = ch.type === 1 ? (ch.recipients || [])[0] : null;
    const status = other ? presenceOf(other.id).status : null;
    list.append(
      h(
        'li',
        null,
        h(
          'a.dm-link' + (active ? '.active' : '') + (unread ? '.unread' : ''),
          {
            href: `/channels/@me/${id}`,
            dataset: { route: '', key: id, channel: id },
            'aria-current': active ? 'page' : null,
            'aria-label': dmName(ch) + (status ? `, ${status}` : '') + (mentions ? `, ${mentions} unread` : ''),
          },
          h('span.avatar-wrap', null, other ? avatar(other, 32) : h('span.avatar.group', null, icon('members', 18)), status ? h('span.status-dot.' + status, { 'aria-hidden': 'true' }) : null),
          h('span.dm-name', null, dmName(ch), ch.type === 3 ? h('small', null, `${(ch.recipients || []).length + 1} Members`) : null),
          mentions ? h('span.badge', { 'aria-hidden': 'true' }, String(mentions)) : null,
        ),
      ),
    );
  }
  clear(
    nav,
    h('header.side-head', null, h('h2.side-title', null, 'Direct Messages'), add),
    h('div.side-scroll', null, state.dms.length ? list : h('p.empty', null, 'No direct messages yet. Start one with the + button, or from someone’s profile in a server.')),
  );
}

