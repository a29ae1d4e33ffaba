/*
 * The side panel on the right: the member list (the default), search results, a thread,
 * or the pinned messages. On a phone it slides over the chat.
 */
import { icon } from '../icons.js';
import { h, clear, $ } from '../dom.js';
import { on, emit } from '../store.js';
import { route } from '../router.js';
import { renderMembers } from './members.js';

/* The thread panel's module once loaded (it owns the open thread's view). */
let threads = null;
const closeThread = () => threads && threads.closeThread();

export const ui = {
  panel: matchMedia('(max-width: 1000px)').matches ? null : localStorage.getItem('hearth.panel') === 'none' ? null : 'members',
  search: '',
  thread: null,
};

let slot = null;

export function mountPanel(el) {
  slot = el;
  on('panel', (what) => {
    const before = ui.panel;
    if (what && typeof what === 'object') {
      if (what.search) {
        ui.panel = 'search';
        ui.search = what.search;
      } else if (what.thread) {
        ui.panel = 'thread';
        ui.thread = what.thread;
      }
    } else {
      ui.panel = what;
    }
    if (ui.panel === 'members' || ui.panel === null) localStorage.setItem('hearth.panel', ui.panel ? 'members' : 'none');
    if (before === 'thread' && ui.panel !== 'thread') closeThread();
    render(true);
    const layout = $('.layout');
    if (layout && matchMedia('(max-width: 1000px)').matches) layout.dataset.drawer = ui.panel ? 'panel' : '';
  });
  on('view', () => {
    if (ui.panel === 'thread' || ui.panel === 'search' || ui.panel === 'pins') {
      const keep = ui.panel === 'search' && route.guildId !== '@me';
      if (!keep) {
        if (ui.panel === 'thread') closeThread();
        ui.panel = matchMedia('(max-width: 1000px)').matches || localStorage.getItem('hearth.panel') === 'none' ? null : 'members';
      }
    }
    render(false);
  });
  on('channel-removed', (id) => {
    if (ui.panel === 'thread' && ui.thread === id) emit('panel', null);
  });
  render(false);
}

let renders = 0;
async function render(focus) {
  if (!slot) return;
  const n = ++renders;
  const layout = $('.layout');
  if (layout) layout.dataset.panel = ui.panel || '';
  if (!ui.panel) {
    clear(slot);
    return;
  }
  let el;
  if (ui.panel === 'members') el = renderMembers();
  else if (ui.panel === 'search') el = (await import('./search.js')).renderSearch(ui.search);
  else if (ui.panel === 'thread') {
    threads = await import('./thread.js');
    if (n !== renders) return;
    el = threads.renderThread(ui.thread);
  } else if (ui.panel === 'pins') el = (await import('./pins.js')).renderPins();
  if (n !== renders) return; // a newer render won while this one loaded its module
  clear(slot, el);
  if (focus && el) {
    const target = $('[data-autofocus]', el) || $('h2', el);
    if (target) {
      if (!target.hasAttribute('tabindex') && !/^(INPUT|TEXTAREA|BUTTON)$/.test(target.tagName)) target.tabIndex = -1;
      target.focus();
    }
  }
}

export function panelHeader(title, extra) {
  return h('header.panel-head', null, h('h2', null, title), extra || null, h('button.icon', { type: 'button', 'aria-label': 'Close panel', onclick: () => emit('panel', null) }, icon('close')));
}

