/* The account panel: who you are, your status and custom status, and logging out. */
import { icon } from '../icons.js';
import { h, clear, avatar, displayName } from '../dom.js';
import { state, on, emit } from '../store.js';
import { popupMenu, formDialog } from './dialogs.js';
import { setPresence, loadPresence } from './app.js';

export const STATUS = {
  online: 'Online',
  idle: 'Idle',
  dnd: 'Do Not Disturb',
  invisible: 'Invisible',
  offline: 'Offline',
};

export function mountUserPanel(panel) {
  const render = () => {
    const me = state.me;
    if (!me) return;
    const p = loadPresence();
    const custom = p.activities[0]?.state || '';
    const shown = p.status === 'invisible' ? 'offline' : p.status;
    const btn = h(
      'button.me-button',
      {
        type: 'button',
        'aria-haspopup': 'menu',
        'aria-expanded': 'false',
        'aria-label': `${displayName(me)}, ${STATUS[p.status]}${custom ? ', ' + custom : ''}. Set status`,
        onclick: () => statusMenu(btn),
      },
      h('span.avatar-wrap', null, avatar(me, 32), h('span.status-dot.' + shown, { 'aria-hidden': 'true' })),
      h('span.me-text', null, h('span.me-name', null, displayName(me)), h('small.me-status', null, custom || STATUS[p.status])),
    );
    const hadFocus = panel.contains(document.activeElement);
    clear(panel, btn);
    if (hadFocus) btn.focus();
  };
  on('me', render);
  on('presence', (id) => state.me && id === state.me.id && render());
  render();
}

function statusMenu(btn) {
  const p = loadPresence();
  const custom = p.activities[0]?.state || '';
  popupMenu(
    btn,
    [
      ...['online', 'idle', 'dnd', 'invisible'].map((s) => ({
        label: STATUS[s],
        icon: h('span.status-dot.inline.' + (s === 'invisible' ? 'offline' : s)),
        checked: p.status === s,
        hint: s === 'dnd' ? 'You will not receive notifications' : s === 'invisible' ? 'You will appear offline' : null,
        onSelect: () => setPresence(s),
      })),
      null,
      { label: custom ? 'Edit Custom Status' : 'Set Custom Status', icon: icon('edit', 16), onSelect: customStatusDialog },
      custom ? { label: 'Clear Custom Status', icon: icon('close', 16), onSelect: () => setPresence(null, '') } : null,
      null,
      { label: 'Log Out', danger: true, icon: icon('join', 16), onSelect: () => emit('logout') },
    ].filter((x, i, a) => x !== null || (a[i - 1] !== null && i < a.length - 1)),
    { label: 'Status' },
  );
}

function customStatusDialog() {
  const p = loadPresence();
  formDialog({
    title: 'Set a custom status',
    fields: [{ name: 'custom', label: 'What’s cookin’?', value: p.activities[0]?.state || '', maxlength: 128, placeholder: 'Support has arrived!' }],
    submit: 'Save',
    onSubmit: async (v) => setPresence(null, v.custom),
  });
}
