/*
 * The app shell: the gateway connection, the four regions (server rail, channel sidebar,
 * chat, side panel), routing between guilds and channels, the phone layout and the
 * keyboard shortcuts that work everywhere.
 */
import { h, clear, $, $$, toast } from '../dom.js';
import { get } from '../api.js';
import { Gateway } from '../gateway.js';
import { state, on, emit, onReady, apply, addHistory, guildChannels, markRead } from '../store.js';
import { route, navigate } from '../router.js';
import { mountRail } from './rail.js';
import { mountSidebar } from './sidebar.js';
import { mountChat, focusComposer } from './chat.js';
import { mountPanel, ui } from './panel.js';
import { openInvite } from './lazy.js';

let gw = null;
let shell = null;
let unsubs = [];
let rootEl = null;
let options = {};

export const isRunning = () => !!gw;
export const gateway = () => gw;

export function loadPresence() {
  let saved = null;
  try {
    saved = JSON.parse(localStorage.getItem('hearth.status'));
  } catch {
    saved = null;
  }
  const status = (saved && saved.status) || 'online';
  const text = saved && saved.custom;
  return {
    since: null,
    afk: false,
    status,
    activities: text ? [{ type: 4, name: 'Custom Status', state: text }] : [],
  };
}

/* Sets the user's own status and custom status, on every session and in storage. */
export function setPresence(status, custom) {
  const cur = loadPresence();
  const next = {
    status: status ?? cur.status,
    custom: custom !== undefined ? custom : cur.activities[0]?.state || '',
  };
  localStorage.setItem('hearth.status', JSON.stringify(next));
  const p = loadPresence();
  if (gw) gw.updatePresence(p);
  if (state.me) {
    state.presences.set(state.me.id, { status: p.status === 'invisible' ? 'offline' : p.status, activities: p.activities, self: p.status });
    emit('presence', state.me.id);
    for (const gid of state.guildOrder) emit('members', gid);
  }
}

export function startApp(root, token, opts) {
  rootEl = root;
  options = opts;
  gw = new Gateway(token, loadPresence());
  gw.addEventListener('ready', (e) => {
    onReady(e.detail.d);
    const p = loadPresence();
    state.presences.set(state.me.id, { status: p.status === 'invisible' ? 'offline' : p.status, activities: p.activities, self: p.status });
    if (!shell) buildShell();
    else if (e.detail.fresh) catchUp();
    emit('route', route);
  });
  gw.addEventListener('dispatch', (e) => apply(e.detail.t, e.detail.d));
  gw.addEventListener('state', (e) => {
    state.conn = e.detail;
    emit('conn');
  });
  gw.addEventListener('fatal', () => opts.logout());
  gw.connect();
}

export function stopApp() {
  if (gw) gw.stop();
  gw = null;
  shell = null;
  unsubs.forEach((u) => u());
  unsubs = [];
  state.messages.clear();
  if (rootEl) clear(rootEl);
}

/*
 * After a session could not be resumed (a long sleep), READY and GUILD_CREATE bring the
 * guilds back; the message pages we hold may have missed messages, so load each again.
 */
async function catchUp() {
  for (const [channelId, p] of state.messages) {
    if (!state.channels.has(channelId)) {
      state.messages.delete(channelId);
      continue;
    }
    if (!p.loaded) continue;
    try {
      const msgs = await get(`/channels/${channelId}/messages?limit=50`);
      addHistory(channelId, msgs, { reset: true, older: msgs.length === 50, newer: false });
    } catch {
      /* the channel may be gone; its view says so when opened */
    }
  }
}

function buildShell() {
  const rail = h('nav.rail', { 'aria-label': 'Servers' });
  const sidebar = h('div.sidebar');
  const chat = h('main.chat#chat', { tabindex: -1 });
  const panel = h('div.panel-slot');
  const scrim = h('div.scrim', { onclick: () => closeDrawers(), 'aria-hidden': 'true' });
  const banner = h('div.conn-banner', { role: 'status', 'aria-live': 'polite' });
  shell = h(
    'div.app',
    null,
    h(
      'div.skips',
      null,
      h('a.skip', { href: '#composer-input', onclick: (e) => (e.preventDefault(), focusComposer()) }, 'Skip to message box'),
      h('a.skip', { href: '#messages', onclick: (e) => (e.preventDefault(), $('#messages .msg:last-child')?.focus()) }, 'Skip to messages'),
      h('a.skip', { href: '#channels', onclick: (e) => (e.preventDefault(), $('#channels [tabindex="0"]')?.focus()) }, 'Skip to channel list'),
    ),
    banner,
    h('div.layout', null, rail, sidebar, chat, panel, scrim),
  );
  clear(rootEl, shell);
  mountRail(rail);
  mountSidebar(sidebar);
  mountChat(chat);
  mountPanel(panel);
  unsubs.push(
    on('conn', () => {
      const bad = state.conn !== 'open';
      banner.textContent = bad ? 'Connection lost. Reconnecting…' : '';
      banner.classList.toggle('show', bad);
    }),
    on('route', onRoute),
    on('guilds', () => onRoute(route)),
    on('guild-removed', (id) => {
      if (route.guildId === id) navigate('/channels/@me', { replace: true });
    }),
    on('channel-removed', (id) => {
      if (route.channelId === id) navigate(`/channels/${route.guildId}`, { replace: true });
    }),
    on('drawer', (which) => toggleDrawer(which)),
  );
  document.addEventListener('keydown', globalKeys);
  addEventListener('focus', () => route.channelId && emit('check-read'));
}

let lastRouted = '';
function onRoute(r) {
  if (!shell) return;
  if (r.name === 'invite') {
    const code = r.code;
    navigate('/channels/@me', { replace: true });
    openInvite(code);
    return;
  }
  if (r.name !== 'channels') return;
  if (r.guildId !== '@me') {
    const g = state.guilds.get(r.guildId);
    if (!g) {
      // Not (yet) ours: GUILD_CREATE may still be on its way after READY.
      if (state.conn === 'open' && state.guildOrder.length && !state.guilds.has(r.guildId)) {
        setTimeout(() => {
          if (route.guildId === r.guildId && !state.guilds.has(r.guildId)) navigate('/channels/@me', { replace: true });
        }, 1500);
      }
      return;
    }
    if (!r.channelId || !state.channels.has(r.channelId)) {
      const remembered = localStorage.getItem('hearth.last.' + r.guildId);
      const texts = guildChannels(r.guildId).filter((c) => c.type === 0 || c.type === 5);
      const pick = (remembered && texts.find((c) => c.id === remembered)) || texts.find((c) => c.id === g.system_channel_id) || texts[0];
      if (pick && pick.id !== r.channelId) {
        navigate(`/channels/${r.guildId}/${pick.id}`, { replace: true });
        return;
      }
    } else {
      localStorage.setItem('hearth.last.' + r.guildId, r.channelId);
      if (gw && !state.membersRequested.has(r.guildId)) {
        state.membersRequested.add(r.guildId);
        gw.requestMembers(r.guildId);
      }
    }
  }
  const key = `${r.guildId}/${r.channelId}/${r.messageId || ''}`;
  if (key !== lastRouted) {
    lastRouted = key;
    closeDrawers();
    emit('view', { guildId: r.guildId, channelId: r.channelId, messageId: r.messageId });
    if (r.channelId) markRead(r.channelId);
  }
}

/* ---- the phone layout: the sidebar and the side panel are drawers ---- */

function toggleDrawer(which) {
  const layout = $('.layout', shell);
  const open = layout.dataset.drawer === which ? '' : which;
  layout.dataset.drawer = open;
  if (open === 'nav') ($('#channels [aria-current="page"]', shell) || $('#channels [tabindex="0"]', shell))?.focus();
}

function closeDrawers() {
  const layout = shell && $('.layout', shell);
  if (layout && layout.dataset.drawer) {
    layout.dataset.drawer = '';
  }
}

export const isPhone = () => matchMedia('(max-width: 760px)').matches;

/* ---- keyboard shortcuts ---- */

function editable(el) {
  return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
}

function globalKeys(e) {
  if (document.querySelector('dialog[open]')) return;
  const t = e.target;
  // Alt+Up/Down: previous or next channel; Ctrl+Alt+Up/Down: previous or next server.
  if (e.altKey && !e.shiftKey && (e.key === 'ArrowUp' || e.key === 'ArrowDown')) {
    e.preventDefault();
    const step = e.key === 'ArrowUp' ? -1 : 1;
    if (e.ctrlKey) {
      const ids = ['@me', ...state.guildOrder];
      const i = ids.indexOf(route.guildId);
      const next = ids[(i + step + ids.length) % ids.length];
      navigate(`/channels/${next}`);
      setTimeout(() => $(`.rail [data-guild="${next}"]`)?.focus());
    } else {
      const links = $$('#channels a.channel');
      const i = links.findIndex((a) => a.dataset.channel === route.channelId);
      const next = links[(i + step + links.length) % links.length];
      if (next) navigate(next.getAttribute('href'));
    }
    return;
  }
  if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === 'f' && route.guildId !== '@me') {
    e.preventDefault();
    $('#search-input')?.focus();
    return;
  }
  if (e.key === 'Escape' && ui.panel && $('.panel-slot')?.contains(t) && !editable(t)) {
    emit('panel', null);
    focusComposer();
    return;
  }
  // Typing anywhere that is not a text field starts a message.
  if (!editable(t) && e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey && !/^(BUTTON|A)$/.test(t.tagName) && !t.closest('.msg, [role=menu], [role=toolbar]')) {
    if (focusComposer()) {
      // The key goes to the composer, which now has focus.
    }
  }
}

export function notSupported(err) {
  toast(err && err.unsupported ? 'This server does not offer that yet.' : (err && err.message) || 'Something went wrong.', 'error');
}
