/*
 * The chat region (<main>): the channel's header with its tools (threads, pins, member
 * list, search, settings), the messages and the composer. Files dropped anywhere on it
 * are added to the composer.
 */
import { icon } from '../icons.js';
import { h, clear, $, toast } from '../dom.js';
import { get } from '../api.js';
import { state, on, emit, setWatching, threadsOf, dmName } from '../store.js';
import { route } from '../router.js';
import { channelPerms, can, P } from '../perms.js';
import { MessageView, channelLabel } from './messages.js';
import { popupMenu, modal, errorText } from './dialogs.js';
import { ui } from './panel.js';
import { openChannelSettings, createInvite } from './lazy.js';
import { renderContent } from '../markdown.js';

let view = null;
let chatEl = null;

export const currentView = () => view;

export function focusComposer() {
  return view ? view.composer.focus() : false;
}

export function mountChat(main) {
  chatEl = main;
  setWatching((cid) => !!view && view.channelId === cid && view.isWatching());
  on('view', (v) => show(v));
  on('channels', (gid) => {
    if (view && view.ch && view.ch.guild_id === gid) {
      renderHeader();
      view.composer.updatePerms();
      view.updatePerms();
    }
  });
  on('members', (gid) => {
    if (!view || view.guildId !== gid) return;
    view.composer.updatePerms();
    view.updatePerms();
  });
  on('dms', () => view && view.ch && !view.ch.guild_id && renderHeader());
  // A channel that was not known when it was opened (its CHANNEL_CREATE or GUILD_CREATE
  // still on the way) is shown as soon as it is.
  const late = () => {
    if (!view && route.name === 'channels' && route.channelId && state.channels.has(route.channelId)) show(route);
  };
  on('dms', late);
  on('channels', late);
  on('panel', () => renderHeader());
  setupDrop(main);
}

function show({ guildId, channelId, messageId }) {
  if (view && view.channelId === channelId && channelId) {
    if (messageId) view.jumpTo(messageId);
    return;
  }
  if (view) view.destroy();
  view = null;
  const ch = channelId && state.channels.get(channelId);
  if (!ch) {
    clear(chatEl, header(null), guildId === '@me' ? home() : h('div.empty-chat', null, h('p', null, state.guilds.has(guildId) ? 'No text channels here yet.' : 'Loading…')));
    document.title = 'Hearth';
    return;
  }
  view = new MessageView(channelId);
  clear(chatEl, header(ch), view.el);
  view.init(messageId);
  document.title = `${channelLabel(ch)}${ch.guild_id ? ' · ' + (state.guilds.get(ch.guild_id)?.name || '') : ''} · Hearth`;
}

function renderHeader() {
  const old = $('.chat-head', chatEl);
  if (old) old.replaceWith(header(view ? view.ch : null));
}

function header(ch) {
  const menu = h('button.icon.nav-toggle', { type: 'button', 'aria-label': 'Open channels and servers', onclick: () => emit('drawer', 'nav') }, icon('menu'));
  if (!ch) return h('header.chat-head', null, menu, h('h1.chat-title', null, route.guildId === '@me' ? 'Home' : ''));
  const perms = channelPerms(ch.id);
  const tools = h('div.chat-tools');
  // On a phone the tools marked `more` move into a "More" menu to leave room for the name.
  const extra = [];
  const tool = (label, glyph, pressed, fn, more = false) => {
    tools.append(h('button.icon' + (more ? '.more-tool' : ''), { type: 'button', 'aria-label': label, title: label, 'aria-pressed': pressed == null ? null : String(pressed), onclick: (e) => fn(e.currentTarget) }, glyph));
    if (more) extra.push({ label, icon: glyph.cloneNode(true), onSelect: () => fn(moreBtn) });
  };
  const moreBtn = h('button.icon.more-button', { type: 'button', 'aria-label': 'More options', 'aria-haspopup': 'menu', 'aria-expanded': 'false', onclick: () => popupMenu(moreBtn, extra, { label: 'More options', align: 'right' }) }, '⋯');
  if (ch.guild_id) {
    tool('Threads', icon('thread'), null, (b) => threadsMenu(b, ch), true);
    tool('Pinned Messages', icon('pin'), ui.panel === 'pins', () => emit('panel', ui.panel === 'pins' ? null : 'pins'), true);
    tool('Member List', icon('members'), ui.panel === 'members', () => emit('panel', ui.panel === 'members' ? null : 'members'));
    if (can(perms, P.CREATE_INSTANT_INVITE)) tool('Invite People', icon('invite'), null, () => createInvite(ch), true);
    if (can(perms, P.MANAGE_CHANNELS) || can(perms, P.MANAGE_ROLES)) tool('Edit Channel', icon('gear'), null, () => openChannelSettings(ch.id), true);
    tools.append(moreBtn);
    const input = h('input#search-input', { type: 'search', placeholder: 'Search', 'aria-label': `Search ${state.guilds.get(ch.guild_id)?.name || ''}`, autocomplete: 'off' });
    const form = h(
      'form.search-box',
      {
        role: 'search',
        onsubmit: (e) => {
          e.preventDefault();
          if (input.value.trim()) emit('panel', { search: input.value.trim() });
        },
      },
      input,
    );
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        input.value = '';
        focusComposer();
      }
    });
    tools.append(form);
  } else {
    tool('Pinned Messages', icon('pin'), ui.panel === 'pins', () => emit('panel', ui.panel === 'pins' ? null : 'pins'));
    if (ch.type === 3) tool('Member List', icon('members'), ui.panel === 'members', () => emit('panel', ui.panel === 'members' ? null : 'members'));
  }
  const title = ch.guild_id ? ch.name : dmName(ch);
  return h(
    'header.chat-head',
    null,
    menu,
    h('span.ch-icon', { 'aria-hidden': 'true' }, ch.guild_id ? icon('hash') : '@'),
    h('h1.chat-title', null, title),
    ch.topic ? h('p.topic', { title: ch.topic }, renderContent(ch.topic, { guildId: ch.guild_id })) : null,
    tools,
  );
}

function threadsMenu(btn, ch) {
  const threads = threadsOf(ch.id);
  const items = threads.map((t) => ({ label: t.name, icon: icon('thread', 16), onSelect: () => emit('panel', { thread: t.id }) }));
  if (!items.length) items.push({ label: 'No threads yet. Start one from a message.', onSelect: () => {} });
  if (can(channelPerms(ch.id), P.CREATE_PUBLIC_THREADS)) {
    items.push(null, { label: 'Archived threads…', icon: icon('archive', 16), onSelect: () => archivedThreads(ch) });
  }
  popupMenu(btn, items, { label: 'Threads', align: 'right' });
}

async function archivedThreads(ch) {
  const body = h('div', { 'aria-busy': 'true' }, h('p', null, 'Loading…'));
  modal({ title: 'Archived threads', body });
  try {
    const res = await get(`/channels/${ch.id}/threads/archived/public`);
    body.removeAttribute('aria-busy');
    const list = (res.threads || []).map((t) => h('li', null, h('button.link', { type: 'button', onclick: () => (document.querySelector('dialog[open]')?.close(), emit('panel', { thread: t.id })) }, t.name)));
    for (const t of res.threads || []) state.channels.set(t.id, t);
    body.replaceChildren(list.length ? h('ul.plain', null, list) : h('p', null, 'No archived threads.'));
  } catch (err) {
    body.replaceChildren(h('p.form-error', { role: 'alert' }, errorText(err)));
  }
}

function home() {
  const me = state.me;
  return h(
    'div.home',
    null,
    h('img', { src: '/img/hearth.svg', alt: '', width: 96, height: 96 }),
    h('h2', null, `Welcome${me ? ', ' + (me.global_name || me.username) : ''}!`),
    h('p', null, 'Pick a server on the left, create one with the + button, or open a direct message.'),
    h(
      'ul.tips',
      null,
      h('li', null, h('kbd', null, 'Alt'), ' + ', h('kbd', null, '↑'), ' / ', h('kbd', null, '↓'), ' previous or next channel'),
      h('li', null, h('kbd', null, 'Ctrl'), ' + ', h('kbd', null, 'Alt'), ' + ', h('kbd', null, '↑'), ' / ', h('kbd', null, '↓'), ' previous or next server'),
      h('li', null, h('kbd', null, '↑'), ' in an empty message box edits your last message'),
      h('li', null, h('kbd', null, 'Ctrl'), ' + ', h('kbd', null, 'F'), ' searches the server'),
    ),
  );
}

function setupDrop(main) {
  let depth = 0;
  const overlay = h('div.drop-overlay', { 'aria-hidden': 'true' }, h('div', null, h('strong', null, 'Upload to this channel'), h('p', null, 'Drop the files here.')));
  const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes('Files');
  main.addEventListener('dragenter', (e) => {
    if (!hasFiles(e) || !view || view.composer.uploadBtn.hidden) return;
    e.preventDefault();
    if (depth++ === 0) main.append(overlay);
  });
  main.addEventListener('dragover', (e) => {
    if (hasFiles(e) && view) e.preventDefault();
  });
  main.addEventListener('dragleave', () => {
    if (depth > 0 && --depth === 0) overlay.remove();
  });
  main.addEventListener('drop', (e) => {
    if (!hasFiles(e) || !view) return;
    e.preventDefault();
    depth = 0;
    overlay.remove();
    if (view.composer.uploadBtn.hidden) {
      toast('You cannot upload files here.', 'error');
      return;
    }
    view.composer.addFiles([...e.dataTransfer.files]);
    view.composer.focus();
  });
}
